// Forecasting metrics of one regression task (units sold, demand quantiles): scale-free errors a planner can read
// across items of any volume, the error relative to a baseline's, and the quality of a quantile forecast.
//
//   double wape = Wape(forecast, sales);                   // 0.31: the absolute error is 31% of the units sold
//   double mase = Mase(forecast, seasonal_naive, sales);   // below 1: better than last week's same weekday
//   double loss = PinballLoss(p90, sales, 0.9);
//   double covered = Coverage(p90, sales);                  // near 0.9 when the p90 forecast is calibrated
//
// The conventions of eval/metrics.h hold: a NaN target is a missing label and skips its row, sums are accumulated
// in double, sizes must match (otherwise Error), and a metric undefined on the rows given is NaN. RMSE is
// eval/metrics.h's Rmse.
#pragma once

#include <span>
#include <vector>

namespace mtrec {

// Weighted absolute percentage error, Σ|ŷ − y| / Σ|y|: the mean absolute error as a share of the mean volume, so a
// slow mover's error weighs by its units rather than by its row (the percentage error of a zero is undefined; here
// a zero only adds its forecast's error). NaN when Σ|y| = 0.
double Wape(std::span<const float> predictions, std::span<const float> targets);

// Relative bias, Σ(ŷ − y) / Σy: above 0 when the forecast over-predicts in total (0.05: 5% more units forecast
// than sold), below 0 when it under-predicts, as a model trained on censored sales does. Relative to the total
// target, not a mean error in units; NaN when Σy = 0. It has no better direction from both sides (best at 0).
double Bias(std::span<const float> predictions, std::span<const float> targets);

// Mean absolute scaled error, MAE(model) / MAE(naive), both over the same rows: those with a target and a naive
// forecast (a NaN naive forecast, e.g. a series' first week without a week before it, leaves the row out of both).
// The scale is the naive's error on the evaluated rows themselves, not on the training history as in Hyndman's
// original definition, so it reads directly as "the model's error per unit of the baseline's": below 1 the model
// beats the baseline. NaN without such a row or when the naive's MAE is 0.
double Mase(std::span<const float> predictions, std::span<const float> naive, std::span<const float> targets);

// The targets of the rows where `forecast` has a value, NaN elsewhere: a baseline without a forecast for some rows
// is measured on the rows it has (Wape(naive, TargetsWhereForecast(naive, sales))).
std::vector<float> TargetsWhereForecast(std::span<const float> forecast, std::span<const float> targets);

// Mean pinball (quantile) loss of a forecast q of the quantile at level tau: mean of max(τ(y − q), (τ − 1)(y − q)),
// which the true τ-quantile minimises; under-forecasting costs τ per unit, over-forecasting 1 − τ. tau must be in
// (0, 1) (otherwise Error: a caller's mistake). NaN when no row is valid.
double PinballLoss(std::span<const float> quantiles, std::span<const float> targets, double tau);

// Share of rows whose target is at most the forecast quantile (y ≤ q): τ for a calibrated forecast of the
// τ-quantile. It has no better direction either (best at τ). NaN when no row is valid.
double Coverage(std::span<const float> quantiles, std::span<const float> targets);

}  // namespace mtrec
