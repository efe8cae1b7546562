// Echoes of a client's text in messages, bounded: a request can carry a key or a value of megabytes, and an
// error answer must stay short.
//
//   QuotedPrefix("price");                      // 'price'
//   QuotedPrefix(std::string(150000, 'x'));     // 'xxxx…' (150000 bytes), 64 bytes of it
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mtrec {

// Quoted; when longer than `max_bytes`, cut on a UTF-8 boundary and followed by its length.
std::string QuotedPrefix(std::string_view text, size_t max_bytes = 64);

}  // namespace mtrec
