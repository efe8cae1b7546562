// Calendar dates as whole days: ISO text (yyyy-mm-dd) to a day number and back, and inclusive ranges
// "yyyy-mm-dd..yyyy-mm-dd" (data.valid_dates, data.test_dates). Strict: a date that does not exist is refused.
//
//   std::optional<int32_t> day = ParseIsoDate("2023-01-31");     // days since 1970-01-01
//   std::optional<DateRange> range = ParseDateRange("2023-01-01..2023-01-31");
//   std::string text = FormatIsoDate(*day);                        // "2023-01-31"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mtrec {

// Days since 1970-01-01 (proleptic Gregorian) of exactly "yyyy-mm-dd"; nullopt for other text or a day the month
// lacks (2023-02-29).
std::optional<int32_t> ParseIsoDate(std::string_view text);
std::string FormatIsoDate(int32_t day);

// Both ends included.
struct DateRange {
  int32_t first = 0;
  int32_t last = 0;
  bool Contains(int32_t day) const { return day >= first && day <= last; }
  bool Overlaps(const DateRange& other) const { return first <= other.last && other.first <= last; }
};

// "yyyy-mm-dd..yyyy-mm-dd" with first <= last; nullopt otherwise (`error` says why when given).
std::optional<DateRange> ParseDateRange(std::string_view text, std::string* error = nullptr);

}  // namespace mtrec
