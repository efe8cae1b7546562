#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "data/simulator.h"

namespace mtrec {
namespace {

// An option that only some presets read; any other preset refuses it rather than silently ignoring it.
struct PresetOption {
  const char* name;
  std::vector<std::string> presets;
};

const std::vector<PresetOption>& PresetOptions() {
  static const std::vector<PresetOption> options = {
      {"--rows", {"ecommerce", "marketing"}},
      {"--users", {"ecommerce"}},
      {"--items", {"ecommerce", "retail"}},
      {"--stores", {"retail"}},
      {"--days", {"ecommerce", "retail"}},
      {"--drift", {"ecommerce"}},
      {"--market", {"ecommerce"}},
      {"--task-correlation", {"ecommerce"}},
      {"--selection-bias", {"ecommerce"}},
      {"--selection-unobserved", {"ecommerce"}},
      {"--scenarios", {"ecommerce"}},
      {"--targeted", {"marketing"}},
      {"--treat-share", {"marketing"}},
  };
  return options;
}

bool Reads(const PresetOption& option, const std::string& preset) {
  return std::find(option.presets.begin(), option.presets.end(), preset) != option.presets.end();
}

// An unknown preset is left to Simulate, which names the known ones.
void CheckPresetOptions(const CLI::App& command, const std::string& preset) {
  const std::vector<std::string> presets = KnownSimulatorPresets();
  if (std::find(presets.begin(), presets.end(), preset) == presets.end()) return;
  std::vector<std::string> own;
  for (const PresetOption& option : PresetOptions()) {
    if (Reads(option, preset)) own.emplace_back(option.name);
  }
  for (const PresetOption& option : PresetOptions()) {
    MTREC_CHECK(command.count(option.name) == 0 || Reads(option, preset),
                "simulate: {} does not apply to preset '{}' (only to {}); the options of '{}' are {}", option.name,
                preset, fmt::join(option.presets, " and "), preset, fmt::join(own, ", "));
  }
}

int PrintDays(const std::string& out, const SimulatorSummary& summary) {
  fmt::print("wrote {}/days/ ({} days of {} rows), train.csv ({} rows), valid.csv ({}), test.csv ({}), config.toml\n",
             out, summary.days, summary.rows_per_day, summary.train_rows, summary.valid_rows, summary.test_rows);
  fmt::print("click rate {:.4f}, cart rate {:.4f}, purchase rate {:.4f}, mean gmv {:.3f}\n", summary.click_rate,
             summary.cart_rate, summary.purchase_rate, summary.mean_gmv);
  fmt::print(
      "drift {}: items on sale {} on day 1, {} on day {} ({} launched since); day {}'s impressions on items "
      "launched from day 8 on {:.3f}, by users who joined after day 1 {:.3f} ({} joined)\n",
      summary.drift, summary.items_first_day, summary.items_last_day, summary.days,
      summary.items_launched, summary.days, summary.late_item_share, summary.new_user_share, summary.users_joined);
  if (summary.market_rows > 0) {
    fmt::print("market b: {}/market-b/ with the same layout, {} rows a day ({:.3f} of all), {} in all\n", out,
               summary.market_rows_per_day,
               static_cast<double>(summary.market_rows_per_day) /
                   static_cast<double>(summary.market_rows_per_day + summary.rows_per_day),
               summary.market_rows);
  }
  return 0;
}

}  // namespace

RunCommand AddSimulateCommand(CLI::App& app) {
  auto options = std::make_shared<SimulatorOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "simulate",
      "Write simulated data with known ground truth: DIR/{train,valid,test}.csv and a ready DIR/config.toml.\n"
      "Preset ecommerce: an impression log with the true probabilities of click, cart and purchase (sized by "
      "--rows); with --days, daily partitions of a drifting world (DIR/days/day-001.csv ..., train.csv all days but "
      "the last two, valid.csv and test.csv one day each).\nPreset retail: store x item x day sales with censored "
      "demand and the true demand distribution, split by date (sized by --stores, --items and --days).\nPreset "
      "marketing: customers, a campaign's offer and "
      "the true conversion, revenue and churn with and without it (sized by --rows).\n\nExamples:\n"
      "  mtrec simulate --out data/sim\n"
      "  mtrec simulate --rows 1000000 --seed 7 --task-correlation 0.2 --selection-bias 0.8 --out data/biased\n"
      "  mtrec simulate --days 30 --drift 0.5 --market 0.05 --out data/stream   # days/day-001.csv ..., market-b/\n"
      "  mtrec simulate --preset retail --stores 20 --items 50 --days 365 --out data/retail\n"
      "  mtrec simulate --preset marketing --targeted --treat-share 0.3 --out data/campaign");
  command->add_option("--preset", options->preset, "Scenario: ecommerce, retail or marketing")->capture_default_str();
  command
      ->add_option("--rows", options->rows,
                   "ecommerce: impressions, marketing: customers, in all three files together (0: 500000 and "
                   "200000); ecommerce with --days: impressions per day, both markets together (0: 40000)")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Random seed (same seed, same files)")->capture_default_str();
  command
      ->add_option("--users", options->users, "ecommerce: number of users, with --days on day 1 (0: scaled from rows)")
      ->capture_default_str();
  command
      ->add_option("--items", options->items,
                   "Number of items, ecommerce with --days on sale on day 1 (0: ecommerce scales it from rows, retail "
                   "100)")
      ->capture_default_str();
  command->add_option("--stores", options->stores, "retail: number of stores (0: 50)")->capture_default_str();
  command
      ->add_option("--days", options->days,
                   "retail: days written (0: 400); ecommerce: daily partitions with drift, 3 or more (0: one shuffled "
                   "snapshot)")
      ->capture_default_str();
  auto drift = std::make_shared<double>(0.5);
  command
      ->add_option("--drift", *drift,
                   "ecommerce with --days: how fast the world changes (item launches and retirements, popularity, "
                   "the season's tastes, new users), 0..1; 0: the same world every day")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--market", options->market_share,
                      "ecommerce with --days: also write a small second market with shifted tastes into DIR/market-b, "
                      "with this share of each day's rows, in (0, 0.5]");
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
  command
      ->add_option("--selection-unobserved", options->selection_unobserved,
                   "ecommerce: strength of an unobserved intent that raises both clicks and purchase|click, so "
                   "clicked rows convert more than all impressions would even given every column, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command
      ->add_option("--scenarios", options->scenarios,
                   "ecommerce: 2..8 scenarios (pages, sites) with shifted tastes in a first column 'scenario', each "
                   "with half the rows of the one before (0: none)")
      ->capture_default_str();
  command->add_flag("--targeted", options->targeted,
                    "marketing: give the offer by a propensity that favours lapsing customers and coupon users "
                    "(clipped to 0.05..0.95) instead of at random");
  command
      ->add_option("--treat-share", options->treat_share,
                   "marketing: the share of customers offered (with --targeted: the mean propensity, 0.05..0.95)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--out", *out, "Output folder")->required();
  return [options, out, command, drift] {
    CheckPresetOptions(*command, options->preset);
    if (command->count("--drift") > 0) options->drift = *drift;
    MTREC_CHECK(options->days > 0 || (command->count("--drift") == 0 && command->count("--market") == 0),
                "simulate: --drift and --market apply to daily partitions: add --days N");
    SimulatorSummary summary = Simulate(*options, *out);
    if (summary.days > 0 && options->preset == "ecommerce") return PrintDays(*out, summary);
    fmt::print("wrote {}/train.csv ({} rows), valid.csv ({}), test.csv ({}), config.toml\n", *out, summary.train_rows,
               summary.valid_rows, summary.test_rows);
    if (options->preset == "retail") {
      fmt::print(
          "mean units per store-item-day {:.3f}, zero-sales share {:.3f}, stock-out rate {:.4f}, promotion "
          "share {:.3f}\n",
          summary.mean_units, summary.zero_share, summary.stockout_rate, summary.promo_share);
    } else if (options->preset == "marketing") {
      fmt::print(
          "conversion rate {:.4f}, mean revenue {:.3f}, top-10% revenue share {:.3f}, churn rate {:.4f}, treated "
          "share {:.3f}, mean true conversion uplift {:.4f}\n",
          summary.conversion_rate, summary.mean_revenue, summary.top_decile_revenue_share, summary.churn_rate,
          summary.treated_share, summary.mean_true_uplift);
    } else {
      fmt::print("click rate {:.4f}, cart rate {:.4f}, purchase rate {:.4f}, mean gmv {:.3f}\n", summary.click_rate,
                 summary.cart_rate, summary.purchase_rate, summary.mean_gmv);
    }
    return 0;
  };
}

}  // namespace mtrec
