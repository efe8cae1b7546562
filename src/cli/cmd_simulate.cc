#include <fmt/format.h>

#include "cli/commands.h"
#include "common/log.h"
#include "data/simulator.h"

namespace mtrec {

RunCommand AddSimulateCommand(CLI::App& app) {
  auto options = std::make_shared<SimulatorOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "simulate",
      "Write a simulated e-commerce impression log with known true probabilities: DIR/{train,valid,test}.csv and a "
      "ready DIR/config.toml.\n\nExamples:\n"
      "  mtrec simulate --out data/sim\n"
      "  mtrec simulate --rows 1000000 --seed 7 --task-correlation 0.2 --selection-bias 0.8 --out data/biased");
  command->add_option("--preset", options->preset, "Scenario")->capture_default_str();
  command->add_option("--rows", options->rows, "Impressions in all three files together")->capture_default_str();
  command->add_option("--seed", options->seed, "Random seed (same seed, same files)")->capture_default_str();
  command->add_option("--users", options->users, "Number of users (0: scaled from rows)")->capture_default_str();
  command->add_option("--items", options->items, "Number of items (0: scaled from rows)")->capture_default_str();
  command->add_option("--task-correlation", options->task_correlation,
                      "How much purchase shares the drivers of click, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--selection-bias", options->selection_bias,
                      "How strongly exposure and clicks are biased, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--out", *out, "Output folder")->required();
  return [options, out] {
    SimulatorSummary summary = Simulate(*options, *out);
    fmt::print("wrote {}/train.csv ({} rows), valid.csv ({}), test.csv ({}), config.toml\n", *out, summary.train_rows,
               summary.valid_rows, summary.test_rows);
    fmt::print("click rate {:.4f}, cart rate {:.4f}, purchase rate {:.4f}, mean gmv {:.3f}\n", summary.click_rate,
               summary.cart_rate, summary.purchase_rate, summary.mean_gmv);
    return 0;
  };
}

}  // namespace mtrec
