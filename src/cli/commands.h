// The subcommands of the `mtrec` binary, one file each. Each Add*Command registers its options on the parent
// app and returns the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace mtrec {

using RunCommand = std::function<int()>;

RunCommand AddInitCommand(CLI::App& app);
RunCommand AddSimulateCommand(CLI::App& app);
RunCommand AddTrainCommand(CLI::App& app);
RunCommand AddEvalCommand(CLI::App& app);
RunCommand AddBacktestCommand(CLI::App& app);
RunCommand AddPredictCommand(CLI::App& app);
RunCommand AddInspectCommand(CLI::App& app);
RunCommand AddListCommand(CLI::App& app);
RunCommand AddExportCommand(CLI::App& app);
RunCommand AddBenchCommand(CLI::App& app);
RunCommand AddServeCommand(CLI::App& app);
RunCommand AddTuneCommand(CLI::App& app);

}  // namespace mtrec
