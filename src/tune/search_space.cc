#include "tune/search_space.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "common/config.h"
#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"

namespace mtrec {
namespace {

std::string Locate(const toml::source_region& source, const std::string& fallback) {
  std::string path = source.path ? *source.path : fallback;
  if (source.begin.line == 0) return path;
  return fmt::format("{}:{}:{}", path, source.begin.line, source.begin.column);
}

// A value of the space file as TOML text, as an override writes it ("\"mmoe\"", "3", "[128, 64]").
std::string NodeText(const toml::node& node, const std::string& where) {
  if (const auto* text = node.as_string()) return QuoteToml(text->get());
  if (const auto* integer = node.as_integer()) return fmt::format("{}", integer->get());
  if (const auto* number = node.as_floating_point()) return fmt::format("{}", number->get());
  if (const auto* flag = node.as_boolean()) return flag->get() ? "true" : "false";
  if (const auto* array = node.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < array->size(); ++i) out += (i ? ", " : "") + NodeText(*array->get(i), where);
    return out + "]";
  }
  Fail("{}: a value must be a string, number, boolean or array", where);
}

}  // namespace

SearchSpace SearchSpace::Load(const std::string& path) { return Parse(ReadFileBytes(path), path); }

SearchSpace SearchSpace::Parse(const std::string& text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    Fail("{}:{}:{}: {}", source_name, error.source().begin.line, error.source().begin.column, error.description());
  }
  for (const auto& [key, node] : root) {
    if (key.str() != "params") {
      Fail("{}: unknown section '{}' in a search space; it holds [params.\"section.key\"] tables",
           Locate(key.source(), source_name), key.str());
    }
  }
  const toml::table* params = root["params"].as_table();
  if (params == nullptr || params->empty()) {
    Fail("{}: no params; a search space has [params.\"section.key\"] tables (docs/tune.md)", source_name);
  }
  SearchSpace space;
  std::map<std::string, size_t> index;
  std::vector<const toml::table*> tables;
  for (const auto& [key, node] : *params) {
    const std::string where = Locate(node.source(), source_name);
    const toml::table* table = node.as_table();
    if (table == nullptr) Fail("{}: params.\"{}\" must be a table (choices = [...], or low and high)", where, key.str());
    Param param;
    param.key = std::string(key.str());
    param.where = where;
    if (param.key.find('.') == std::string::npos) {
      Fail("{}: '{}' is not a config key; params are named \"section.key\" (\"train.lr\")", where, param.key);
    }
    const std::vector<std::string> known = {"choices", "low", "high", "log", "int", "points", "when"};
    for (const auto& [field, value] : *table) {
      if (std::find(known.begin(), known.end(), field.str()) == known.end()) {
        Fail("{}: unknown key '{}' in params.\"{}\"{}; a param has {}", Locate(field.source(), source_name),
             field.str(), param.key, DidYouMeanSuffix(field.str(), known), QuotedList(known));
      }
    }
    if (const toml::array* choices = (*table)["choices"].as_array()) {
      if (table->contains("low") || table->contains("high")) {
        Fail("{}: params.\"{}\" has both choices and a range; give one", where, param.key);
      }
      if (choices->empty()) Fail("{}: params.\"{}\": choices is empty", where, param.key);
      param.kind = Param::Kind::kChoice;
      for (const auto& choice : *choices) param.choices.push_back(NodeText(choice, where));
    } else if (table->contains("low") && table->contains("high")) {
      const std::optional<double> low = (*table)["low"].value<double>();
      const std::optional<double> high = (*table)["high"].value<double>();
      if (!low || !high || !std::isfinite(*low) || !std::isfinite(*high) || *low >= *high) {
        Fail("{}: params.\"{}\": low and high must be numbers with low < high", where, param.key);
      }
      param.low = *low;
      param.high = *high;
      param.log = (*table)["log"].value_or(false);
      param.kind = (*table)["int"].value_or(false) ? Param::Kind::kInt : Param::Kind::kFloat;
      if (param.log && param.low <= 0) {
        Fail("{}: params.\"{}\": a log range needs low > 0, got {}", where, param.key, param.low);
      }
      if (param.kind == Param::Kind::kInt && (param.low != std::floor(param.low) || param.high != std::floor(param.high))) {
        Fail("{}: params.\"{}\": an int range needs whole low and high", where, param.key);
      }
      param.points = static_cast<int>((*table)["points"].value_or(int64_t{3}));
      if (param.points < 2) Fail("{}: params.\"{}\": points must be at least 2", where, param.key);
    } else {
      Fail("{}: params.\"{}\" needs choices = [...], or low and high", where, param.key);
    }
    index.emplace(param.key, space.params_.size());
    space.params_.push_back(std::move(param));
    tables.push_back(table);
  }
  // Conditions, once every param is known.
  for (size_t p = 0; p < space.params_.size(); ++p) {
    Param& param = space.params_[p];
    const toml::node* when_node = tables[p]->get("when");
    if (when_node == nullptr) continue;
    const toml::table* when = when_node->as_table();
    if (when == nullptr) {
      Fail("{}: params.\"{}\": when must be a table, when = {{ \"model.arch\" = [\"mmoe\"] }}", param.where, param.key);
    }
    for (const auto& [key, node] : *when) {
      const std::string where = Locate(key.source(), source_name);
      auto it = index.find(std::string(key.str()));
      if (it == index.end()) {
        std::vector<std::string> names;
        for (const auto& other : space.params_) names.push_back(other.key);
        Fail("{}: params.\"{}\": the condition names '{}', which is not a param of the space{}", where, param.key,
             key.str(), DidYouMeanSuffix(key.str(), names));
      }
      if (it->second == p) Fail("{}: params.\"{}\": a condition on itself", where, param.key);
      Param::Condition condition{it->second, {}};
      if (const toml::array* values = node.as_array()) {
        for (const auto& value : *values) condition.values.push_back(NodeText(value, where));
      } else {
        condition.values.push_back(NodeText(node, where));
      }
      const Param& on = space.params_[it->second];
      for (const std::string& value : condition.values) {
        if (on.kind == Param::Kind::kChoice &&
            std::find(on.choices.begin(), on.choices.end(), value) == on.choices.end()) {
          Fail("{}: params.\"{}\": the condition's value {} is not one of {}'s choices {}", where, param.key, value,
               on.key, fmt::join(on.choices, ", "));
        }
      }
      param.when.push_back(std::move(condition));
    }
  }
  // Conditioning params first (a depth-first topological order; a cycle is refused).
  std::vector<int> state(space.params_.size(), 0);  // 0 new, 1 on the path, 2 placed
  std::function<void(size_t)> place = [&](size_t p) {
    if (state[p] == 2) return;
    if (state[p] == 1) Fail("{}: params.\"{}\": its conditions form a cycle", space.params_[p].where, space.params_[p].key);
    state[p] = 1;
    for (const auto& condition : space.params_[p].when) place(condition.param);
    state[p] = 2;
    space.order_.push_back(p);
  };
  for (size_t p = 0; p < space.params_.size(); ++p) place(p);
  return space;
}

double SearchSpace::Snap(size_t p, double x) const {
  const Param& param = params_[p];
  const double rounded = param.kind == Param::Kind::kInt ? std::round(x) : std::stod(fmt::format("{:.6g}", x));
  return std::clamp(rounded, param.low, param.high);
}

std::string SearchSpace::Signature(size_t p) const {
  const Param& param = params_[p];
  std::string text = param.key + ": ";
  if (param.kind == Param::Kind::kChoice) {
    text += fmt::format("choices [{}]", fmt::join(param.choices, ", "));
  } else {
    text += fmt::format("{} {}..{}{} points {}", param.kind == Param::Kind::kInt ? "int" : "float", param.low,
                        param.high, param.log ? " log" : "", param.points);
  }
  for (const auto& condition : param.when) {
    text += fmt::format(" when {} in [{}]", params_[condition.param].key, fmt::join(condition.values, ", "));
  }
  return text;
}

bool SearchSpace::Holds(const Point& point) const {
  if (point.size() != params_.size()) return false;
  for (size_t p : order_) {
    const Param& param = params_[p];
    const ParamValue& value = point[p];
    if (value.active != Active(point, p)) return false;
    if (!value.active) continue;
    if (param.kind == Param::Kind::kChoice) {
      if (value.choice < 0 || value.choice >= static_cast<int64_t>(param.choices.size())) return false;
    } else if (!(value.number >= param.low && value.number <= param.high)) {
      return false;
    }
  }
  return true;
}

bool SearchSpace::Active(const Point& point, size_t p) const {
  for (const auto& condition : params_[p].when) {
    const ParamValue& value = point[condition.param];
    if (!value.active) return false;
    const std::string text = Text(condition.param, value);
    if (std::find(condition.values.begin(), condition.values.end(), text) == condition.values.end()) return false;
  }
  return true;
}

std::string SearchSpace::Text(size_t p, const ParamValue& value) const {
  const Param& param = params_[p];
  if (param.kind == Param::Kind::kChoice) return param.choices.at(static_cast<size_t>(value.choice));
  if (param.kind == Param::Kind::kInt) return fmt::format("{}", static_cast<int64_t>(std::llround(value.number)));
  return fmt::format("{}", value.number);
}

std::vector<std::string> SearchSpace::Overrides(const Point& point) const {
  std::vector<std::string> overrides;
  for (size_t p = 0; p < params_.size(); ++p) {
    if (point[p].active) overrides.push_back(params_[p].key + "=" + Text(p, point[p]));
  }
  return overrides;
}

std::string SearchSpace::Describe(const Point& point) const {
  std::string text;
  for (size_t p = 0; p < params_.size(); ++p) {
    if (!point[p].active) continue;
    std::string value = Text(p, point[p]);
    if (value.size() > 1 && value.front() == '"') value = value.substr(1, value.size() - 2);
    text += fmt::format("{}{}={}", text.empty() ? "" : " ", params_[p].key, value);
  }
  return text;
}

Point SearchSpace::Random(Rng& rng) const {
  Point point(params_.size());
  for (size_t p : order_) {
    if (!Active(point, p)) continue;
    const Param& param = params_[p];
    ParamValue& value = point[p];
    value.active = true;
    if (param.kind == Param::Kind::kChoice) {
      value.choice = static_cast<int64_t>(rng.Below(param.choices.size()));
    } else if (param.kind == Param::Kind::kInt) {
      // [low, high + 1) floored: every integer equally likely (log: k in proportion to log(k + 1) - log(k)).
      const double low = param.log ? std::log(param.low) : param.low;
      const double high = param.log ? std::log(param.high + 1) : param.high + 1;
      const double u = low + rng.Uniform() * (high - low);
      value.number = std::clamp(std::floor(param.log ? std::exp(u) : u), param.low, param.high);
    } else {
      const double u = param.log ? std::log(param.low) + rng.Uniform() * (std::log(param.high) - std::log(param.low))
                                 : param.low + rng.Uniform() * (param.high - param.low);
      value.number = Snap(p, param.log ? std::exp(u) : u);
    }
  }
  return point;
}

std::vector<Point> SearchSpace::Grid() const {
  // The values each param takes on the grid.
  std::vector<std::vector<ParamValue>> values(params_.size());
  for (size_t p = 0; p < params_.size(); ++p) {
    const Param& param = params_[p];
    if (param.kind == Param::Kind::kChoice) {
      for (size_t c = 0; c < param.choices.size(); ++c) values[p].push_back({true, 0, static_cast<int64_t>(c)});
      continue;
    }
    for (int i = 0; i < param.points; ++i) {
      const double t = static_cast<double>(i) / (param.points - 1);
      const double x = param.log ? std::exp(std::log(param.low) + t * (std::log(param.high) - std::log(param.low)))
                                 : param.low + t * (param.high - param.low);
      const ParamValue value{true, Snap(p, x), -1};
      if (std::find(values[p].begin(), values[p].end(), value) == values[p].end()) values[p].push_back(value);
    }
  }
  std::vector<Point> grid;
  constexpr size_t kMaxGrid = 100000;
  Point point(params_.size());
  std::function<void(size_t)> expand = [&](size_t k) {
    if (k == order_.size()) {
      if (grid.size() >= kMaxGrid) Fail("the grid has more than {} points; use --method random or tpe", kMaxGrid);
      grid.push_back(point);
      return;
    }
    const size_t p = order_[k];
    if (!Active(point, p)) {
      point[p] = {};
      expand(k + 1);
      return;
    }
    for (const ParamValue& value : values[p]) {
      point[p] = value;
      expand(k + 1);
    }
    point[p] = {};
  };
  expand(0);
  return grid;
}

}  // namespace mtrec
