#include "eval/forecast_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "common/error.h"
#include "eval/metrics.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void CheckSameSize(const char* metric, size_t forecasts, size_t targets) {
  MTREC_CHECK(forecasts == targets, "{}: {} forecasts but {} targets; expected one forecast per target", metric,
              forecasts, targets);
}

// Σ over the rows with a target of `term(forecast, target)`, and how many rows that was.
template <typename Term>
std::pair<double, int64_t> SumOverTargets(std::span<const float> forecasts, std::span<const float> targets,
                                          Term term) {
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (std::isnan(targets[i])) continue;
    sum += term(static_cast<double>(forecasts[i]), static_cast<double>(targets[i]));
    ++rows;
  }
  return {sum, rows};
}

}  // namespace

double Wape(std::span<const float> predictions, std::span<const float> targets) {
  CheckSameSize("Wape", predictions.size(), targets.size());
  const double error = SumOverTargets(predictions, targets, [](double p, double y) { return std::abs(p - y); }).first;
  const double volume = SumOverTargets(predictions, targets, [](double, double y) { return std::abs(y); }).first;
  return volume == 0.0 ? kNaN : error / volume;
}

double Bias(std::span<const float> predictions, std::span<const float> targets) {
  CheckSameSize("Bias", predictions.size(), targets.size());
  const double excess = SumOverTargets(predictions, targets, [](double p, double y) { return p - y; }).first;
  const double total = SumOverTargets(predictions, targets, [](double, double y) { return y; }).first;
  return total == 0.0 ? kNaN : excess / total;
}

std::vector<float> TargetsWhereForecast(std::span<const float> forecast, std::span<const float> targets) {
  CheckSameSize("TargetsWhereForecast", forecast.size(), targets.size());
  std::vector<float> kept(targets.begin(), targets.end());
  for (size_t i = 0; i < kept.size(); ++i) {
    if (std::isnan(forecast[i])) kept[i] = std::numeric_limits<float>::quiet_NaN();
  }
  return kept;
}

double Mase(std::span<const float> predictions, std::span<const float> naive, std::span<const float> targets) {
  CheckSameSize("Mase", predictions.size(), targets.size());
  const std::vector<float> rows = TargetsWhereForecast(naive, targets);
  const double scale = Mae(naive, rows);
  return std::isnan(scale) || scale == 0.0 ? kNaN : Mae(predictions, rows) / scale;
}

double PinballLoss(std::span<const float> quantiles, std::span<const float> targets, double tau) {
  CheckSameSize("PinballLoss", quantiles.size(), targets.size());
  MTREC_CHECK(tau > 0.0 && tau < 1.0, "PinballLoss: quantile level {} is not in (0, 1)", tau);
  const auto [sum, rows] = SumOverTargets(quantiles, targets, [tau](double q, double y) {
    return std::max(tau * (y - q), (tau - 1.0) * (y - q));
  });
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

double Coverage(std::span<const float> quantiles, std::span<const float> targets) {
  CheckSameSize("Coverage", quantiles.size(), targets.size());
  const auto [covered, rows] =
      SumOverTargets(quantiles, targets, [](double q, double y) { return y <= q ? 1.0 : 0.0; });
  return rows == 0 ? kNaN : covered / static_cast<double>(rows);
}

}  // namespace mtrec
