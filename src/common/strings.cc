#include "common/strings.h"

#include <fast_float/fast_float.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace mtrec {

std::string_view Trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t' || text[begin] == '\r')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) --end;
  return text.substr(begin, end - begin);
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  AsciiLowerInPlace(&out);
  return out;
}

void AsciiLowerInPlace(std::string* text) {
  for (char& c : *text) c = AsciiLowerChar(c);
}

bool AsciiEqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return AsciiLowerChar(x) == AsciiLowerChar(y); });
}

std::vector<std::string_view> Split(std::string_view text, std::string_view separator) {
  std::vector<std::string_view> parts;
  ForEachPart(text, separator, [&parts](std::string_view part) { parts.push_back(part); });
  return parts;
}

namespace {

// Plain decimals ("31.29", "-4", "0.0685") with at most 15 digits and 22 decimals: the digits as an integer m
// (exact in a double, m < 2^53) divided by 10^k (exact too) is one correctly rounded division, so the value is the
// one fast_float gives (Clinger's fast path), without its general parsing. Anything else answers false.
bool ParsePlainDecimal(std::string_view text, double* value) {
  static constexpr double kPowersOf10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = text.data();
  const char* end = p + text.size();
  bool negative = false;
  if (p < end && (*p == '-' || *p == '+')) {
    negative = *p == '-';
    ++p;
  }
  uint64_t mantissa = 0;
  int digits = 0;
  const char* int_begin = p;
  for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) mantissa = mantissa * 10 + (*p - '0');
  if (p == int_begin) return false;
  int decimals = 0;
  if (p < end && *p == '.') {
    ++p;
    const char* fraction_begin = p;
    for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) mantissa = mantissa * 10 + (*p - '0');
    decimals = static_cast<int>(p - fraction_begin);
    if (decimals == 0) return false;
  }
  if (p != end || digits > 15 || decimals > 22) return false;
  const double magnitude = static_cast<double>(mantissa) / kPowersOf10[decimals];
  *value = negative ? -magnitude : magnitude;
  return true;
}

}  // namespace

std::optional<double> ParseDouble(std::string_view text) {
  double plain = 0;
  if (ParsePlainDecimal(text, &plain)) return plain;
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') ++first;  // fast_float rejects a leading '+', which spreadsheets write
  double value = 0;
  auto result = fast_float::from_chars(first, last, value);
  // NaN and infinity are not data: a missing value is spelled by data.na_values, an overflow is an error.
  if (result.ec != std::errc() || result.ptr != last || !std::isfinite(value)) return std::nullopt;
  return value;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    // The length difference bounds the distance from below; it also spares a quadratic run over a huge name.
    const size_t length_gap =
        word.size() > candidate.size() ? word.size() - candidate.size() : candidate.size() - word.size();
    if (length_gap >= best_distance) continue;
    size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = DidYouMean(word, candidates);
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

std::string Quoted(std::string_view text, size_t limit) {
  if (text.size() <= limit) return "'" + std::string(text) + "'";
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;  // not inside a UTF-8 character
  return fmt::format("'{}…' ({} bytes)", text.substr(0, cut), text.size());
}

std::string QuotedList(const std::vector<std::string>& names, size_t max_names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max_names; ++i) {
    if (i) out += ", ";
    out += Quoted(names[i]);
  }
  if (names.size() > max_names) out += fmt::format(" … and {} more", names.size() - max_names);
  return out;
}

}  // namespace mtrec
