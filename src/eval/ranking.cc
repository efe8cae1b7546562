#include "eval/ranking.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "common/error.h"

namespace mtrec {

std::vector<RankingAtK> ComputeRanking(std::span<const float> scores, std::span<const float> relevance,
                                       std::span<const float> value, std::span<const int64_t> groups,
                                       std::span<const int64_t> ks) {
  const size_t n = scores.size();
  MTREC_CHECK(relevance.size() == n && groups.size() == n && (value.empty() || value.size() == n),
              "ComputeRanking: {} scores, {} relevances, {} values and {} group ids; expected one of each per row", n,
              relevance.size(), value.size(), groups.size());
  for (int64_t k : ks) MTREC_CHECK(k >= 1, "ComputeRanking: k = {}; expected k >= 1", k);
  for (size_t i = 0; i < n; ++i) {
    MTREC_CHECK(!std::isnan(scores[i]), "ComputeRanking: score at row {} is NaN; expected a number", i);
    MTREC_CHECK(relevance[i] >= 0.f, "ComputeRanking: relevance at row {} is {}; expected a number >= 0", i,
                relevance[i]);
    MTREC_CHECK(value.empty() || !std::isnan(value[i]), "ComputeRanking: value at row {} is NaN", i);
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return groups[a] != groups[b] ? groups[a] < groups[b] : scores[a] > scores[b];
  });
  // Discount of 0-based position i: 1 / log2(i + 2); prefix sums let a tied block's share of the top k be summed.
  auto discount = [](size_t i) { return 1.0 / std::log2(static_cast<double>(i) + 2.0); };
  auto gain = [](double rel) { return std::exp2(rel) - 1.0; };

  std::vector<RankingAtK> results(ks.size());
  std::vector<double> ndcg_sum(ks.size(), 0.0), recall_sum(ks.size(), 0.0), top_value(ks.size(), 0.0);
  double all_value = 0.0;
  int64_t groups_total = 0, groups_relevant = 0;
  std::vector<double> sorted_gains;
  for (size_t begin = 0; begin < n;) {
    size_t end = begin;
    while (end < n && groups[order[end]] == groups[order[begin]]) ++end;
    ++groups_total;
    // This group's rows are order[begin, end), best score first.
    double group_relevant = 0.0, group_value = 0.0;
    sorted_gains.clear();
    for (size_t p = begin; p < end; ++p) {
      const double rel = relevance[order[p]];
      group_relevant += rel > 0 ? 1.0 : 0.0;
      sorted_gains.push_back(gain(rel));
      if (!value.empty()) group_value += value[order[p]];
    }
    all_value += group_value;
    std::sort(sorted_gains.begin(), sorted_gains.end(), std::greater<>());
    if (group_relevant > 0) ++groups_relevant;
    for (size_t j = 0; j < ks.size(); ++j) {
      const size_t k = static_cast<size_t>(ks[j]);
      double idcg = 0.0;
      for (size_t i = 0; i < std::min(k, sorted_gains.size()); ++i) idcg += sorted_gains[i] * discount(i);
      double dcg = 0.0, relevant_in_top = 0.0, value_in_top = 0.0;
      // Tied blocks: under a random order of the block, each of its positions holds each of its rows with equal
      // probability, so a position's expected gain (or relevance, or value) is the block's mean.
      for (size_t block = begin; block < end && block - begin < k;) {
        size_t block_end = block;
        double block_gain = 0.0, block_relevant = 0.0, block_value = 0.0;
        while (block_end < end && scores[order[block_end]] == scores[order[block]]) {
          const size_t row = order[block_end];
          block_gain += gain(relevance[row]);
          block_relevant += relevance[row] > 0 ? 1.0 : 0.0;
          if (!value.empty()) block_value += value[row];
          ++block_end;
        }
        const double size = static_cast<double>(block_end - block);
        const size_t first = block - begin, last = std::min(block_end - begin, k);  // positions [first, last) in top k
        double discounts = 0.0;
        for (size_t i = first; i < last; ++i) discounts += discount(i);
        const double share = static_cast<double>(last - first) / size;
        dcg += block_gain / size * discounts;
        relevant_in_top += block_relevant * share;
        value_in_top += block_value * share;
        block = block_end;
      }
      if (group_relevant > 0) {
        ndcg_sum[j] += dcg / idcg;
        recall_sum[j] += relevant_in_top / group_relevant;
      }
      top_value[j] += value_in_top;
    }
    begin = end;
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  for (size_t j = 0; j < ks.size(); ++j) {
    RankingAtK& r = results[j];
    r.k = ks[j];
    r.groups = groups_total;
    r.groups_relevant = groups_relevant;
    r.ndcg = groups_relevant ? ndcg_sum[j] / static_cast<double>(groups_relevant) : kNaN;
    r.recall = groups_relevant ? recall_sum[j] / static_cast<double>(groups_relevant) : kNaN;
    r.value_share = value.empty() || all_value == 0.0 ? kNaN : top_value[j] / all_value;
  }
  return results;
}

}  // namespace mtrec
