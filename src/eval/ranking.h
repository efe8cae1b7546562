// Ranking metrics over groups (a request's candidates, a user's impressions): how good the top k of each group is
// when its rows are sorted by a score — the blended score a server ranks by.
//
//   std::vector<RankingAtK> r = ComputeRanking(blended, relevance, gmv, request_ids, {5, 10});
//   fmt::print("ndcg@10 {:.4f} recall@10 {:.4f} gmv share@10 {:.3f}\n", r[1].ndcg, r[1].recall, r[1].value_share);
//
// Ties: rows of equal score have no order, so every metric is its expectation over a uniformly random order of the
// tied rows (a tied block straddling position k contributes its mean per position). The result then does not
// depend on the order of the file, and a constant score gets the metric of a random ranking.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mtrec {

struct RankingAtK {
  int64_t k = 0;
  // Mean over groups with a relevant row of DCG@k / IDCG@k, DCG@k = Σ_{i ≤ k} (2^{rel_i} − 1) / log₂(i + 1).
  double ndcg = 0.0;
  // Mean over groups with a relevant row (relevance > 0) of the share of its relevant rows ranked in the top k.
  double recall = 0.0;
  // Σ over groups of the value in the top k / Σ of all value (e.g. the share of GMV a top-k page would show).
  // NaN without values or when they sum to 0.
  double value_share = 0.0;
  int64_t groups = 0;           // groups of the data
  int64_t groups_relevant = 0;  // those with a relevant row: the ones ndcg and recall average over
};

// `relevance`: graded, ≥ 0 (e.g. click + cart + purchase labels); `value`: the row's value (GMV) or empty;
// `groups[i]`: any id of row i's group. Throws on a NaN score, a negative or NaN relevance, a NaN value, k < 1 or
// spans of different lengths.
std::vector<RankingAtK> ComputeRanking(std::span<const float> scores, std::span<const float> relevance,
                                       std::span<const float> value, std::span<const int64_t> groups,
                                       std::span<const int64_t> ks);

}  // namespace mtrec
