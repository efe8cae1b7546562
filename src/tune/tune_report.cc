#include "tune/tune_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "eval/svg_chart.h"

namespace mtrec {
namespace {

std::string EpochsName(int64_t epochs) { return fmt::format("{} epoch{}", epochs, epochs == 1 ? "" : "s"); }

// One scatter series per budget (ASHA's rungs; one without it), and the best so far at the full budget as a line.
// `x` gives a trial's position on the chart's axis.
template <typename X>
LineChart ScoreChart(const Tuner& tuner, std::string id, std::string title, std::string x_label, X x) {
  LineChart chart(std::move(id), std::move(title), std::move(x_label), "score");
  chart.legend_bottom = true;  // the best trials are at the top
  std::map<int64_t, ChartSeries> by_epochs;
  std::vector<const Trial*> ordered;
  for (const Trial& trial : tuner.trials()) {
    if (!Finished(trial.state)) continue;
    ChartSeries& series = by_epochs[trial.epochs];
    series.name = EpochsName(trial.epochs);
    series.scatter = true;
    series.points.push_back({x(trial), trial.score});
    ordered.push_back(&trial);
  }
  std::sort(ordered.begin(), ordered.end(), [&](const Trial* a, const Trial* b) { return x(*a) < x(*b); });
  const int64_t full = tuner.options().max_epochs;
  ChartSeries best{"best so far", {}, /*markers=*/true, static_cast<int>(by_epochs.size())};
  double running = -INFINITY;
  for (const Trial* trial : ordered) {
    if (trial->epochs != full) continue;
    running = std::max(running, trial->score);
    best.points.push_back({x(*trial), running});
  }
  for (auto& [epochs, series] : by_epochs) chart.series.push_back(std::move(series));
  if (!best.points.empty()) chart.series.push_back(std::move(best));
  return chart;
}

}  // namespace

HtmlReport TuneReport(const Tuner& tuner, const std::string& title) {
  const TuneOptions& options = tuner.options();
  const SearchSpace& space = tuner.space();
  HtmlReport report{"mtrec tune: " + title, {}, {}};
  std::string objectives;
  for (const Objective& objective : options.objectives) {
    objectives += fmt::format("{}{} ({}{})", objectives.empty() ? "" : ", ", objective.Name(),
                              objective.maximize ? "maximised" : "minimised",
                              options.objectives.size() > 1 ? fmt::format(", weight {}", objective.weight) : "");
  }
  double cpu = 0;
  int64_t failed = 0;
  for (const Trial& trial : tuner.trials()) {
    cpu += trial.cpu_seconds;
    failed += trial.state == Trial::State::kFailed;
  }
  report.facts = {{"method", fmt::format("{}, seed {}", options.method, options.seed)},
                  {"trials", fmt::format("{} ({} failed), {} at a time", tuner.trials().size(), failed,
                                         options.parallel)},
                  {"budget", options.asha ? fmt::format("ASHA, eta {}, rungs of {} epochs", options.eta,
                                                        fmt::join(tuner.Rungs(), ", "))
                                          : fmt::format("{} epochs a trial", options.max_epochs)},
                  {"objective", objectives},
                  {"CPU time of the trials", fmt::format("{:.0f} s", cpu)}};
  if (const Trial* best = tuner.Best()) {
    report.facts.push_back({"best", fmt::format("trial {}: {:.5f} ({})", best->id, best->score,
                                                space.Describe(best->point))});
  }

  ReportSection search{"The search",
                       "Each dot is a trial's score (the weighted mean of the objectives, higher is better) after "
                       "the epochs it trained; the line is the best full-budget score so far, by trial, by the time "
                       "the trial ended, and by the CPU time spent on all trials until then.",
                       {},
                       {}};
  search.charts.push_back(RenderLineChart(ScoreChart(tuner, "by_trial", "Score by trial", "trial",
                                                     [](const Trial& t) { return static_cast<double>(t.id); })));
  search.charts.push_back(RenderLineChart(
      ScoreChart(tuner, "by_time", "Score by time", "seconds since the start", [](const Trial& t) { return t.finished; })));
  // Cumulative CPU seconds at each trial's end, in the order trials ended.
  std::vector<const Trial*> by_end;
  for (const Trial& trial : tuner.trials()) by_end.push_back(&trial);
  std::sort(by_end.begin(), by_end.end(), [](const Trial* a, const Trial* b) { return a->finished < b->finished; });
  std::map<int64_t, double> cpu_at_end;
  double spent = 0;
  for (const Trial* trial : by_end) {
    spent += trial->cpu_seconds;
    cpu_at_end[trial->id] = spent;
  }
  search.charts.push_back(RenderLineChart(ScoreChart(tuner, "by_compute", "Score by compute", "CPU seconds",
                                                     [&](const Trial& t) { return cpu_at_end[t.id]; })));
  report.sections.push_back(std::move(search));

  ReportSection params{"Each parameter against the score",
                       "The trials where the parameter was searched (a condition leaves it out of the others); log "
                       "ranges on a log10 axis, choices at their position in the list.",
                       {},
                       {}};
  for (size_t p = 0; p < space.params().size(); ++p) {
    const Param& param = space.params()[p];
    const bool log = param.kind != Param::Kind::kChoice && param.log;
    LineChart chart("param_" + param.key, param.key, log ? "log10 " + param.key : param.key, "score");
    chart.legend_bottom = true;
    ChartSeries dots{"trials", {}, /*markers=*/false, 0, /*scatter=*/true};
    for (const Trial& trial : tuner.trials()) {
      if (!Finished(trial.state) || !trial.point[p].active) continue;
      const ParamValue& value = trial.point[p];
      const double x = param.kind == Param::Kind::kChoice ? static_cast<double>(value.choice)
                                                           : (log ? std::log10(value.number) : value.number);
      dots.points.push_back({x, trial.score});
    }
    if (param.kind == Param::Kind::kChoice) {
      for (size_t c = 0; c < param.choices.size() && c < 6; ++c) {
        std::string name = param.choices[c];
        if (name.size() > 1 && name.front() == '"') name = name.substr(1, name.size() - 2);
        chart.x_tick_labels.push_back({static_cast<double>(c), name});
      }
    }
    chart.series.push_back(std::move(dots));
    params.charts.push_back(RenderLineChart(chart, 360, 260));
  }
  report.sections.push_back(std::move(params));

  if (options.objectives.size() >= 2) {
    ReportSection pareto{"Pareto front",
                         fmt::format("Every trial at the full budget by its first two objectives; the front joins the "
                                     "trials no other beats on every objective ({} in all).",
                                     options.objectives.size()),
                         {},
                         {}};
    LineChart chart("pareto", "Pareto front", options.objectives[0].Name(), options.objectives[1].Name());
    ChartSeries all{"trials", {}, /*markers=*/false, 0, /*scatter=*/true};
    ChartSeries front{"front", {}, /*markers=*/true, 1};
    const Trial* best = tuner.Best();
    for (const Trial& trial : tuner.trials()) {
      if (Finished(trial.state) && best != nullptr && trial.rung == best->rung) all.points.push_back({trial.values[0], trial.values[1]});
    }
    for (size_t t : tuner.ParetoFront()) front.points.push_back({tuner.trials()[t].values[0], tuner.trials()[t].values[1]});
    std::sort(front.points.begin(), front.points.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.x < b.x; });
    chart.series = {std::move(all), std::move(front)};
    pareto.charts.push_back(RenderLineChart(chart));
    report.sections.push_back(std::move(pareto));
  }

  ReportTable table{"Every trial, best first", {"trial", "state", "epochs", "score"}, {}};
  for (const Objective& objective : options.objectives) table.header.push_back(objective.Name());
  table.header.insert(table.header.end(), {"CPU s", "params"});
  for (const Trial* trial : tuner.Ranked()) {
    std::vector<std::string> row = {fmt::format("{}", trial->id), std::string(StateName(trial->state)),
                                    fmt::format("{}", trial->epochs),
                                    Finished(trial->state) ? fmt::format("{:.5f}", trial->score) : ""};
    for (size_t i = 0; i < options.objectives.size(); ++i) {
      row.push_back(i < trial->values.size() ? fmt::format("{:.5f}", trial->values[i]) : "");
    }
    row.push_back(fmt::format("{:.1f}", trial->cpu_seconds));
    row.push_back(trial->state == Trial::State::kFailed ? trial->error : space.Describe(trial->point));
    table.rows.push_back(std::move(row));
  }
  report.sections.push_back({"Trials", "", {std::move(table)}, {}});
  return report;
}

}  // namespace mtrec
