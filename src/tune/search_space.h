// What `mtrec tune` searches: config keys and the values each may take, read from a TOML file (docs/tune.md).
//
//   [params."model.arch"]            # a choice among values (strings, numbers, booleans, arrays)
//   choices = ["shared_bottom", "mmoe", "ple"]
//   [params."train.lr"]              # a range, uniform or (log = true) log-uniform
//   low = 1e-4
//   high = 1e-2
//   log = true
//   [params."model.experts"]         # integers in a range; only searched when model.arch is mmoe or ple
//   low = 2
//   high = 8
//   int = true
//   when = { "model.arch" = ["mmoe", "ple"] }
//
//   SearchSpace space = SearchSpace::Load("space.toml");
//   Point point = space.Random(rng);
//   std::vector<std::string> overrides = space.Overrides(point);   // {"model.arch=\"mmoe\"", "train.lr=0.0031", ...}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"

namespace mtrec {

struct Param {
  enum class Kind { kChoice, kFloat, kInt };
  std::string key;  // the config key, "train.lr"
  Kind kind = Kind::kChoice;
  std::vector<std::string> choices;  // kChoice: each value as TOML text ("\"mmoe\"", "[128, 64]", "3")
  double low = 0;                    // kFloat, kInt: the range, both ends included
  double high = 0;
  bool log = false;  // sampled uniformly in log(value)
  int points = 3;    // a grid search's values of a range
  // Searched only when every condition holds: the param `param` (an index into the space) is active and has one of
  // `values` (TOML text, compared as written by the space's own formatting).
  struct Condition {
    size_t param = 0;
    std::vector<std::string> values;
  };
  std::vector<Condition> when;
  std::string where;  // "space.toml:12:1", for messages
};

// A value of each param of a space: a number (kFloat, kInt) or the index of a choice; inactive where a condition
// does not hold.
struct ParamValue {
  bool active = false;
  double number = 0;
  int64_t choice = -1;
  bool operator==(const ParamValue&) const = default;
};
using Point = std::vector<ParamValue>;

class SearchSpace {
 public:
  static SearchSpace Load(const std::string& path);
  static SearchSpace Parse(const std::string& text, const std::string& source_name);

  const std::vector<Param>& params() const { return params_; }
  // Params in an order where every condition's param comes before the params it conditions.
  const std::vector<size_t>& order() const { return order_; }
  // Whether param p's conditions hold, given the values of the params before it in order().
  bool Active(const Point& point, size_t p) const;
  // The value as TOML text, for an override and for comparing with a condition.
  std::string Text(size_t p, const ParamValue& value) const;
  // A range param's value as the space keeps it: within the range, integers whole, others to 6 significant digits
  // (what an override and tune.json hold).
  double Snap(size_t p, double x) const;
  // "key=value" for every active param, as `mtrec train` takes them.
  std::vector<std::string> Overrides(const Point& point) const;
  // Param p's whole definition in one line (kind, values, range, conditions): a search resumed from tune.json
  // must have the same.
  std::string Signature(size_t p) const;
  // Whether `point` could have come from this space: a value for each param, active exactly where the conditions
  // hold, choices that exist, numbers in their ranges.
  bool Holds(const Point& point) const;
  // "model.arch=mmoe train.lr=0.0031", for logs.
  std::string Describe(const Point& point) const;

  // A value drawn uniformly (log-uniformly for log ranges) for each active param.
  Point Random(Rng& rng) const;
  // Every combination of the choices and of `points` values of each range (evenly spaced, in log space for log
  // ranges); a param inactive under a combination takes no values there.
  std::vector<Point> Grid() const;

 private:
  std::vector<Param> params_;
  std::vector<size_t> order_;
};

}  // namespace mtrec
