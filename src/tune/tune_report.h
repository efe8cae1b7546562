// The HTML report of a search (`mtrec tune` writes OUT/report.html): the trials over time and over compute with
// the best so far, each param against the score, the Pareto front of several objectives, and every trial.
//
//   WriteFileAtomic("out/report.html", RenderHtmlReport(TuneReport(tuner, "census")));
#pragma once

#include <string>

#include "eval/html_report.h"
#include "tune/tuner.h"

namespace mtrec {

HtmlReport TuneReport(const Tuner& tuner, const std::string& title);

}  // namespace mtrec
