// Small text helpers used by the config, CSV and CLI code.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtrec {

std::string_view Trim(std::string_view text);
std::vector<std::string_view> Split(std::string_view text, std::string_view separator);

// ASCII letters to lower case, other bytes as they are (no locale: UTF-8 text and HTTP names alike).
inline char AsciiLowerChar(char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); }
std::string AsciiLower(std::string_view text);
// The same in place (a reused string keeps its buffer).
void AsciiLowerInPlace(std::string* text);
// Whether two texts are equal with ASCII letters compared without case (no copy, unlike AsciiLower).
bool AsciiEqualsIgnoringCase(std::string_view a, std::string_view b);

// Calls fn(part) for each part Split would return, in order, without building the vector (for per-field loops).
template <typename Fn>
void ForEachPart(std::string_view text, std::string_view separator, Fn&& fn) {
  if (separator.empty()) {
    fn(text);
    return;
  }
  size_t start = 0;
  while (true) {
    const size_t stop = text.find(separator, start);
    if (stop == std::string_view::npos) {
      fn(text.substr(start));
      return;
    }
    fn(text.substr(start, stop - start));
    start = stop + separator.size();
  }
}

// A hash for maps keyed by std::string that are looked up by std::string_view without a copy:
// std::unordered_map<std::string, V, StringHash, std::equal_to<>>.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// Parses the whole of `text` (surrounding blanks allowed) as a finite double; nullopt otherwise (NaN and
// infinity included).
std::optional<double> ParseDouble(std::string_view text);

// Levenshtein distance; used for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The closest candidate to `word`, if it is close enough to be a plausible typo; empty otherwise.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string DidYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates);

// A value from a file or request in quotes for a message, cut to a prefix of about `limit` bytes (at a UTF-8
// boundary) with its length when longer, so that a 150 MB header line does not make a 150 MB message:
// "'abc'", or "'abcdefgh…' (157286400 bytes)".
inline constexpr size_t kQuotedLimit = 64;
std::string Quoted(std::string_view text, size_t limit = kQuotedLimit);

// Lists names as "'a', 'b', 'c'" for messages, each as Quoted, at most `max_names` of them ("… and 12 more").
std::string QuotedList(const std::vector<std::string>& names, size_t max_names = 50);

}  // namespace mtrec
