#include "common/dates.h"

#include <fmt/format.h>

namespace mtrec {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days: exact for every Gregorian date, no tables, no time zone.
int32_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int32_t>(era * 146097 + static_cast<int64_t>(doe) - 719468);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::optional<int32_t> ParseIsoDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](size_t begin, size_t end) -> int {
    int value = 0;
    for (size_t i = begin; i < end; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const int y = number(0, 4);
  const int m = number(5, 7);
  const int d = number(8, 10);
  if (y < 0 || m < 1 || m > 12 || d < 1) return std::nullopt;
  if (static_cast<unsigned>(d) > DaysInMonth(y, static_cast<unsigned>(m))) return std::nullopt;
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::string FormatIsoDate(int32_t day) {
  const int64_t z = static_cast<int64_t>(day) + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::optional<DateRange> ParseDateRange(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<DateRange> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const size_t dots = text.find("..");
  if (dots == std::string_view::npos) return fail("expected an inclusive range \"yyyy-mm-dd..yyyy-mm-dd\"");
  const std::string_view first_text = text.substr(0, dots);
  const std::string_view last_text = text.substr(dots + 2);
  const std::optional<int32_t> first = ParseIsoDate(first_text);
  if (!first) return fail(fmt::format("'{}' is not a date yyyy-mm-dd", first_text));
  const std::optional<int32_t> last = ParseIsoDate(last_text);
  if (!last) return fail(fmt::format("'{}' is not a date yyyy-mm-dd", last_text));
  if (*last < *first) return fail(fmt::format("it ends ({}) before it starts ({})", last_text, first_text));
  return DateRange{*first, *last};
}

}  // namespace mtrec
