#include "common/quoted.h"

#include <fmt/format.h>

namespace mtrec {

std::string QuotedPrefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return fmt::format("'{}'", text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return fmt::format("'{}…' ({} bytes)", text.substr(0, cut), text.size());
}

}  // namespace mtrec
