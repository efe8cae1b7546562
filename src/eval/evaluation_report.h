// The HTML report of `mtrec eval --report`: an EvaluationRun and the model's training history laid out as tables
// and charts (eval/html_report.h renders them).
#pragma once

#include <string>

#include "eval/evaluation_run.h"
#include "eval/multitask_gain.h"
#include "io/model_io.h"

namespace mtrec {

// `gain`: Δm against --baseline (per_task empty when none was given).
std::string RenderEvaluationReport(const LoadedModel& loaded, const std::string& model_path, const EvaluationRun& run,
                                   const MultiTaskGain& gain);

}  // namespace mtrec
