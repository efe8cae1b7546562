// Errors inside mtrec are exceptions of one type whose message says what was found, what was expected and
// where (file:line:column or config key). Command-line entry points catch them and exit non-zero.
//
//   throw Error(fmt::format("{}: expected a number, found '{}'", where.Str(), text));
//   MTREC_CHECK(rows > 0, "dataset '{}' is empty", path);
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace mtrec {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a problem sits in an input: "file:line: column 'name'" with the parts that are known.
struct Where {
  std::string file;
  size_t line = 0;      // 1-based; 0 when unknown
  std::string column;   // column name or config key; empty when unknown

  std::string Str() const;
};

template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mtrec

#define MTREC_CHECK(cond, ...)        \
  do {                                \
    if (!(cond)) {                    \
      ::mtrec::Fail(__VA_ARGS__);     \
    }                                 \
  } while (0)
