#include "common/error.h"

namespace mtrec {

std::string Where::Str() const {
  std::string out = file.empty() ? std::string("<input>") : file;
  if (line > 0) out += fmt::format(":{}", line);
  if (!column.empty()) out += fmt::format(": column '{}'", column);
  return out;
}

}  // namespace mtrec
