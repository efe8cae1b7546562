#include "common/strings.h"

#include <gtest/gtest.h>

#include <fast_float/fast_float.h>

#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace mtrec {
namespace {

std::vector<std::string> SplitToStrings(std::string_view text, std::string_view separator) {
  std::vector<std::string> out;
  for (std::string_view part : Split(text, separator)) out.emplace_back(part);
  return out;
}

TEST(StringsTest, TrimRemovesSpacesTabsAndCarriageReturnsAtBothEnds) {
  EXPECT_EQ(Trim("  a b \t\r"), "a b");
  EXPECT_EQ(Trim("\t x"), "x");
  EXPECT_EQ(Trim("x"), "x");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t\r "), "");
  EXPECT_EQ(Trim("\nx\n"), "\nx\n");  // newlines are record separators, not blanks
  std::string_view text = "  abc  ";
  EXPECT_EQ(Trim(text).data(), text.data() + 2);  // a view into the input, not a copy
}

TEST(StringsTest, AsciiCaseFoldsLettersOnly) {
  EXPECT_EQ(AsciiLower("Content-TYPE: Ä1"), "content-type: Ä1");
  EXPECT_TRUE(AsciiEqualsIgnoringCase("Keep-Alive", "keep-alive"));
  EXPECT_TRUE(AsciiEqualsIgnoringCase("", ""));
  EXPECT_FALSE(AsciiEqualsIgnoringCase("close", "closed"));
  EXPECT_FALSE(AsciiEqualsIgnoringCase("[", "{"));  // 0x5b and 0x7b differ by the case bit, yet are not letters
  EXPECT_FALSE(AsciiEqualsIgnoringCase("\xc4", "\xe4"));  // Latin-1 bytes are not folded
}

TEST(StringsTest, SplitKeepsEmptyPartsAndAcceptsLongSeparators) {
  EXPECT_EQ(SplitToStrings("a,b,c", ","), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(SplitToStrings("a,,b,", ","), (std::vector<std::string>{"a", "", "b", ""}));
  EXPECT_EQ(SplitToStrings("", ","), (std::vector<std::string>{""}));
  EXPECT_EQ(SplitToStrings("abc", ","), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(SplitToStrings("a, b,c, d", ", "), (std::vector<std::string>{"a", "b,c", "d"}));
  EXPECT_EQ(SplitToStrings("x::y", "::"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(SplitToStrings("a,b", ""), (std::vector<std::string>{"a,b"}));
}

TEST(StringsTest, ParseDoubleAcceptsNumbersWithSignsBlanksAndExponents) {
  EXPECT_EQ(ParseDouble("+1.5"), 1.5);
  EXPECT_EQ(ParseDouble(" 2 "), 2.0);
  EXPECT_EQ(ParseDouble("1e3"), 1000.0);
  EXPECT_EQ(ParseDouble("-0.25"), -0.25);
  EXPECT_EQ(ParseDouble(".5"), 0.5);
  EXPECT_EQ(ParseDouble("\t7\r"), 7.0);
  EXPECT_EQ(ParseDouble("2.5E-2"), 0.025);
}

// ParseDouble answers plain decimals of up to 15 digits itself; its value must be the correctly rounded one that
// fast_float gives, bit for bit, over every digit count and position of the point, signs and zeros included.
TEST(StringsTest, ParseDoubleOfPlainDecimalsEqualsFastFloatBitForBit) {
  std::mt19937_64 rng(11);
  int checked = 0;
  for (int digits = 1; digits <= 18; ++digits) {
    for (int trial = 0; trial < 3000; ++trial) {
      std::string number;
      for (int d = 0; d < digits; ++d) number += static_cast<char>('0' + rng() % 10);
      const int point = static_cast<int>(rng() % (digits + 1));  // digits after the point; 0 = no point
      if (point > 0 && point < digits) number.insert(number.size() - point, ".");
      if (rng() % 3 == 0) number.insert(0, rng() % 2 ? "-" : "+");
      const std::string_view plain = number[0] == '+' ? std::string_view(number).substr(1) : std::string_view(number);
      double expected = 0;
      const auto result = fast_float::from_chars(plain.data(), plain.data() + plain.size(), expected);
      ASSERT_EQ(result.ptr, plain.data() + plain.size()) << number;
      const std::optional<double> got = ParseDouble(number);
      ASSERT_TRUE(got.has_value()) << number;
      ASSERT_EQ(std::bit_cast<uint64_t>(*got), std::bit_cast<uint64_t>(expected)) << number;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 18 * 3000);
  EXPECT_EQ(std::bit_cast<uint64_t>(*ParseDouble("-0")), std::bit_cast<uint64_t>(-0.0));
  EXPECT_EQ(ParseDouble("0.1"), 0.1);
  EXPECT_EQ(ParseDouble("1."), 1.0);  // not a plain decimal here: the general path takes it
}

TEST(StringsTest, ParseDoubleRejectsAnythingElse) {
  for (const char* text : {"", "   ", "abc", "1.2.3", "1,5", "1 2", "12abc", "+", "-", "++1", "e3", "0x"}) {
    EXPECT_FALSE(ParseDouble(text).has_value()) << "'" << text << "'";
  }
}

TEST(StringsTest, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("flaw", "lawn"), 2u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
  EXPECT_EQ(EditDistance("ab", "ba"), 2u);  // a swap is two edits (no transpositions)
  EXPECT_EQ(EditDistance("epochs", "epoch"), 1u);
  EXPECT_EQ(EditDistance("abc", "xabcx"), 2u);
}

TEST(StringsTest, DidYouMeanPicksTheClosestPlausibleCandidate) {
  const std::vector<std::string> keys = {"epochs", "lr", "optimizer", "batch_size"};
  EXPECT_EQ(DidYouMean("epoch", keys), "epochs");
  EXPECT_EQ(DidYouMean("optimiser", keys), "optimizer");
  EXPECT_EQ(DidYouMean("batchsize", keys), "batch_size");
  EXPECT_EQ(DidYouMean("lr", keys), "lr");
  EXPECT_EQ(DidYouMean("completely_different", keys), "");
  EXPECT_EQ(DidYouMean("x", {}), "");
  // The first of equally close candidates wins.
  EXPECT_EQ(DidYouMean("ab", {"ax", "ay"}), "ax");
  // A word of 9 letters tolerates 3 edits, not 4.
  EXPECT_EQ(DidYouMean("abcdefghi", {"abcdefxyz"}), "abcdefxyz");
  EXPECT_EQ(DidYouMean("abcdefghi", {"abcdewxyz"}), "");
  // Short words tolerate 2 edits, not 3.
  EXPECT_EQ(DidYouMean("abc", {"xyc"}), "xyc");
  EXPECT_EQ(DidYouMean("abc", {"xyz"}), "");
}

TEST(StringsTest, SuffixAndQuotedList) {
  EXPECT_EQ(DidYouMeanSuffix("adamm", {"adam", "sgd"}), " (did you mean 'adam'?)");
  EXPECT_EQ(DidYouMeanSuffix("zzzzzzzz", {"adam", "sgd"}), "");
  EXPECT_EQ(QuotedList({"a", "b", "c"}), "'a', 'b', 'c'");
  EXPECT_EQ(QuotedList({"x"}), "'x'");
  EXPECT_EQ(QuotedList({}), "");
}

TEST(StringsTest, QuotedCutsLongValuesToAPrefixWithTheirLength) {
  EXPECT_EQ(Quoted("click"), "'click'");
  EXPECT_EQ(Quoted(std::string(64, 'a')), "'" + std::string(64, 'a') + "'");
  EXPECT_EQ(Quoted(std::string(65, 'a')), "'" + std::string(64, 'a') + "…' (65 bytes)");
  EXPECT_EQ(Quoted("abcdefghij", 4), "'abcd…' (10 bytes)");
  // Never half a UTF-8 character: "é" is two bytes, the cut at 4 would split the second one.
  EXPECT_EQ(Quoted("abcééé", 4), "'abc…' (9 bytes)");
  const std::string header(10'000'000, 'x');
  EXPECT_LT(Quoted(header).size(), 100u);
}

TEST(StringsTest, QuotedListShortensEachNameAndTheList) {
  std::vector<std::string> names(60, "n");
  names[0] = std::string(1000, 'y');
  const std::string list = QuotedList(names);
  const std::string head = "'" + std::string(64, 'y') + "…' (1000 bytes), 'n', ";
  const std::string tail = "'n', 'n' … and 10 more";
  EXPECT_EQ(list.substr(0, head.size()), head);
  EXPECT_EQ(list.substr(list.size() - tail.size()), tail);
  EXPECT_EQ(list.size(), head.size() + 46 * 5 + tail.size());  // names 2..47 between them
  EXPECT_EQ(QuotedList({"a", "b", "c"}, 2), "'a', 'b' … and 1 more");
}

TEST(StringsTest, DidYouMeanSkipsCandidatesOfFarOffLengthsQuickly) {
  // A 50 MB "column name" (a header line without delimiters): no quadratic edit distance, no suggestion.
  const std::vector<std::string> names = {std::string(50'000'000, 'x'), "price"};
  EXPECT_EQ(DidYouMean("prices", names), "price");
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// Missing values are spelled by data.na_values; a literal "nan" or an overflow must not slip in as a number.
TEST(StringsTest, ParseDoubleRejectsNanAndInfinity) {
  for (const char* text : {"nan", "-nan", "NaN", "inf", "-inf", "Infinity", "1e999"}) {
    EXPECT_FALSE(ParseDouble(text).has_value()) << text;
  }
  ASSERT_TRUE(ParseDouble("-1e300").has_value());
  EXPECT_EQ(*ParseDouble("-1e300"), -1e300);
}

}  // namespace
}  // namespace mtrec
