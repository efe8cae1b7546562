#include <fmt/format.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "data/simulator.h"

namespace mtrec {

RunCommand AddSimulateCommand(CLI::App& app) {
  auto options = std::make_shared<SimulatorOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "simulate",
      "Write simulated data with known ground truth: DIR/{train,valid,test}.csv and a ready DIR/config.toml.\n"
      "Preset ecommerce: an impression log with the true probabilities of click, cart and purchase (sized by "
      "--rows).\nPreset retail: store x item x day sales with censored demand and the true demand distribution, "
      "split by date (sized by --stores, --items and --days).\n\nExamples:\n"
      "  mtrec simulate --out data/sim\n"
      "  mtrec simulate --rows 1000000 --seed 7 --task-correlation 0.2 --selection-bias 0.8 --out data/biased\n"
      "  mtrec simulate --preset retail --stores 20 --items 50 --days 365 --out data/retail");
  command->add_option("--preset", options->preset, "Scenario: ecommerce or retail")->capture_default_str();
  command->add_option("--rows", options->rows, "ecommerce: impressions in all three files together")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Random seed (same seed, same files)")->capture_default_str();
  command->add_option("--users", options->users, "ecommerce: number of users (0: scaled from rows)")
      ->capture_default_str();
  command->add_option("--items", options->items, "Number of items (0: ecommerce scales it from rows, retail 100)")
      ->capture_default_str();
  command->add_option("--stores", options->stores, "retail: number of stores (0: 50)")->capture_default_str();
  command->add_option("--days", options->days, "retail: days written (0: 400)")->capture_default_str();
  command
      ->add_option("--task-correlation", options->task_correlation,
                   "ecommerce: how much purchase shares the drivers of click, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command
      ->add_option("--selection-bias", options->selection_bias,
                   "ecommerce: how strongly exposure and clicks are biased, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--out", *out, "Output folder")->required();
  return [options, out, command] {
    // An option of the other preset would be silently ignored: say so instead.
    const bool retail = options->preset == "retail";
    const std::vector<std::string> other_preset =
        retail ? std::vector<std::string>{"--rows", "--users", "--task-correlation", "--selection-bias"}
               : std::vector<std::string>{"--stores", "--days"};
    for (const std::string& name : other_preset) {
      MTREC_CHECK(command->count(name) == 0, "simulate: {} does not apply to preset '{}'{}", name, options->preset,
                  retail ? "; its size is --stores x --items x --days" : "");
    }
    SimulatorSummary summary = Simulate(*options, *out);
    fmt::print("wrote {}/train.csv ({} rows), valid.csv ({}), test.csv ({}), config.toml\n", *out, summary.train_rows,
               summary.valid_rows, summary.test_rows);
    if (retail) {
      fmt::print(
          "mean units per store-item-day {:.3f}, zero-sales share {:.3f}, stock-out rate {:.4f}, promotion "
          "share {:.3f}\n",
          summary.mean_units, summary.zero_share, summary.stockout_rate, summary.promo_share);
    } else {
      fmt::print("click rate {:.4f}, cart rate {:.4f}, purchase rate {:.4f}, mean gmv {:.3f}\n", summary.click_rate,
                 summary.cart_rate, summary.purchase_rate, summary.mean_gmv);
    }
    return 0;
  };
}

}  // namespace mtrec
