// `mpirun -np 2 mtrec train`: two ranks with a batch of B each train the model one process trains with a batch of
// 2B (the same pipeline, every weight within 1e-5 of its tensor's largest), write one model file, and an error or a
// dead rank ends the whole job instead of leaving the other waiting.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "cli_runner.h"
#include "common/files.h"
#include "io/model_io.h"
#include "models/model.h"

namespace mtrec::e2e {
namespace {

// mpirun as CI runs it (as root in a fresh machine), two ranks on whatever cores there are. The tests run beside
// others on few cores: a rank waiting in a collective yields its core instead of spinning on it.
std::string Mpirun(int ranks) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "OMPI_MCA_mpi_yield_when_idle=1 mpirun "
         "--bind-to none -np " +
         std::to_string(ranks) + " " + MTREC_BINARY + " ";
}

class DistributedTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("distributed");
    RunResult sim = RunMtrec("-q simulate --rows 3000 --seed 5 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  std::string Train(const std::string& out, int64_t batch, const std::string& extra = "") const {
    return "-q train --config " + (dir_ / "config.toml").string() + " --out " + (dir_ / out).string() +
           " train.batch_size=" + std::to_string(batch) + " train.epochs=1 train.shuffle=false train.threads=1 " + extra;
  }
  std::filesystem::path dir_;
};

// The largest difference of two tensors over the largest magnitude of the first.
double RelativeDifference(const float* a, const float* b, size_t n) {
  double largest = 0, difference = 0;
  for (size_t i = 0; i < n; ++i) {
    largest = std::max(largest, std::abs(static_cast<double>(a[i])));
    difference = std::max(difference, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return largest > 0 ? difference / largest : difference;
}

// The two runs' models: the same pipeline, and every tensor within 1e-5 of its largest weight. A tensor whose largest
// weight is round-off (a linear layer's bias before batch norm, whose true gradient is 0) is held to 1e-9 instead.
double ExpectSameModel(const std::filesystem::path& one, const std::filesystem::path& two) {
  LoadedModel a = LoadModel(one.string());
  LoadedModel b = LoadModel(two.string());
  // The pipeline of all rows on both: the same vocabularies, and numeric statistics equal but for the order of
  // their sums (per rank, then over the ranks).
  const Config& config = a.config;
  for (size_t f = 0; f < config.features.size(); ++f) {
    const std::string& name = config.features[f].name;
    if (config.features[f].kind == FeatureKind::kNumeric) {
      EXPECT_NEAR(a.pipeline->numeric(f).mean(), b.pipeline->numeric(f).mean(),
                  1e-12 * std::max(1.0, std::abs(a.pipeline->numeric(f).mean())))
          << name;
      EXPECT_NEAR(a.pipeline->numeric(f).std(), b.pipeline->numeric(f).std(), 1e-12 * a.pipeline->numeric(f).std())
          << name;
    } else {
      EXPECT_EQ(a.pipeline->vocabulary(f).values(), b.pipeline->vocabulary(f).values()) << name;
    }
  }
  double worst = 0;
  const auto compare = [&](const std::string& name, const float* x, const float* y, size_t n) {
    double largest = 0, difference = 0;
    for (size_t i = 0; i < n; ++i) {
      largest = std::max(largest, std::abs(static_cast<double>(x[i])));
      difference = std::max(difference, std::abs(static_cast<double>(x[i]) - y[i]));
    }
    if (largest < 1e-6) {
      EXPECT_LE(difference, 1e-9) << name << " (round-off only)";
      return;
    }
    EXPECT_LE(difference / largest, 1e-5) << name;
    worst = std::max(worst, difference / largest);
  };
  const auto& infos = a.model->arena().Infos();
  EXPECT_EQ(infos.size(), b.model->arena().Infos().size());
  for (size_t i = 0; i < infos.size() && i < b.model->arena().Infos().size(); ++i) {
    compare(infos[i].name, a.model->arena().Value(i), b.model->arena().Value(i),
            static_cast<size_t>(infos[i].rows * infos[i].cols));
  }
  const auto& tables_a = a.model->input().tables();
  const auto& tables_b = b.model->input().tables();
  EXPECT_EQ(tables_a.size(), tables_b.size());
  for (size_t t = 0; t < tables_a.size() && t < tables_b.size(); ++t) {
    EXPECT_EQ(tables_a[t].rows(), tables_b[t].rows());
    if (tables_a[t].rows() != tables_b[t].rows()) continue;
    compare(tables_a[t].name(), tables_a[t].Row(0), tables_b[t].Row(0),
            static_cast<size_t>(tables_a[t].rows() * tables_a[t].dim()));
  }
  return worst;
}

TEST_F(DistributedTest, TwoRanksTrainTheModelOfOneProcessWithTwiceTheBatch) {
  // MMoE with dropout (each row draws its mask by its place in the whole step's batch), dense Adam, a count task's
  // output bias started from all ranks' labels. Embeddings by SGD: Adagrad's first step on a row is ±lr whatever
  // the gradient's size, so a row whose summed gradient is round-off (~1e-9) moves by lr either way, and the two
  // runs' different summation orders show there (docs/distributed.md).
  const std::string model = "model.arch=mmoe model.experts=3 model.dropout=0.1 train.embedding_optimizer=sgd";
  RunResult one = RunMtrec(Train("one.mtrec", 256, model));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = RunShell(Mpirun(2) + Train("two.mtrec", 128, model));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  // The test metrics printed once (by rank 0, which alone writes the model).
  const auto once = [](const std::string& text, const std::string& what) {
    const size_t first = text.find(what);
    return first != std::string::npos && text.find(what, first + 1) == std::string::npos;
  };
  EXPECT_TRUE(once(two.output, "test metrics")) << two.output;

  const double worst = ExpectSameModel(dir_ / "one.mtrec", dir_ / "two.mtrec");
  RecordProperty("worst_relative_difference", std::to_string(worst));
  LoadedModel a = LoadModel((dir_ / "one.mtrec").string());
  const auto& infos = a.model->arena().Infos();
  // Training did move the weights: the comparison is not of two untouched initialisations.
  RunResult untrained = RunMtrec(Train("zero.mtrec", 256, model + " train.lr=1e-12 train.embedding_lr=1e-12"));
  ASSERT_EQ(untrained.exit_code, 0) << untrained.output;
  LoadedModel z = LoadModel((dir_ / "zero.mtrec").string());
  double moved = 0;
  for (size_t i = 0; i < infos.size(); ++i) {
    const auto n = static_cast<size_t>(infos[i].rows * infos[i].cols);
    moved = std::max(moved, RelativeDifference(a.model->arena().Value(i), z.model->arena().Value(i), n));
  }
  EXPECT_GT(moved, 1e-2);
}

// Batch norm over the step's whole batch (its column sums all-reduced in Forward and Backward), and a last step in
// which rank 1 has no rows left (2,400 training rows in steps of 2 × 500) but still joins every reduction.
TEST_F(DistributedTest, BatchNormSeesTheWholeStepAndARankWithoutRowsStillTakesPart) {
  const std::string model = "model.arch=ple model.batch_norm=true model.dropout=0.1 train.optimizer=sgd "
                            "train.embedding_optimizer=sgd";
  RunResult one = RunMtrec(Train("one.mtrec", 1000, model));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = RunShell(Mpirun(2) + Train("two.mtrec", 500, model));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  ExpectSameModel(dir_ / "one.mtrec", dir_ / "two.mtrec");
}

// Strategies that combine the task gradients see the gradients of the whole step: in the shared space each task's
// dense gradient is all-reduced before the Gram matrix, in the representation space the rows' inner products are
// summed over the ranks.
TEST_F(DistributedTest, GradientStrategiesCombineTheWholeStepsTaskGradients) {
  for (const std::string strategy : {"pcgrad", "gradnorm train.gradient_space=representation", "mgda"}) {
    const std::string model = "model.arch=mmoe model.experts=3 train.optimizer=sgd train.embedding_optimizer=sgd "
                              "train.weighting=" + strategy;
    RunResult one = RunMtrec(Train("one.mtrec", 256, model));
    ASSERT_EQ(one.exit_code, 0) << one.output;
    RunResult two = RunShell(Mpirun(2) + Train("two.mtrec", 128, model));
    ASSERT_EQ(two.exit_code, 0) << two.output;
    SCOPED_TRACE(strategy);
    ExpectSameModel(dir_ / "one.mtrec", dir_ / "two.mtrec");
  }
}

// The marketing preset's uplift tasks weigh their rows by the inverse propensity, normalised to a mean of 1 over
// the labelled rows of the whole step (their count and weight sum reduced over the ranks).
TEST_F(DistributedTest, InversePropensityWeightsAreNormalisedOverTheWholeStep) {
  const std::filesystem::path data = dir_ / "marketing";
  RunResult sim = RunMtrec("-q simulate --preset marketing --rows 3000 --seed 3 --out " + data.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  const std::string train = "-q train --config " + (data / "config.toml").string() +
                            " train.epochs=1 train.shuffle=false train.threads=1 train.optimizer=sgd "
                            "train.embedding_optimizer=sgd --out ";
  RunResult one = RunMtrec(train + (dir_ / "one.mtrec").string() + " train.batch_size=256");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = RunShell(Mpirun(2) + train + (dir_ / "two.mtrec").string() + " train.batch_size=128");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  ExpectSameModel(dir_ / "one.mtrec", dir_ / "two.mtrec");
}

// Rank 0 writes the checkpoint after every epoch; a run stopped after epoch 1 and resumed on the same number of
// ranks (each keeps the same share) ends with the uninterrupted run's model file, byte for byte. With row-sharded
// tables the checkpoint holds the parts gathered into whole tables and their optimizer states, and each rank takes
// its rows back from it.
TEST_F(DistributedTest, AResumedRunOnTheSameRanksEqualsTheUninterruptedOne) {
  for (const std::string tables : {"", " train.shard_rows=0"}) {
    SCOPED_TRACE(tables.empty() ? "replicated tables" : "row-sharded tables");
    const std::string run =
        "train.epochs=2 train.early_stop_metric=none train.lr_schedule=linear model.dropout=0.1" + tables;
    RunResult whole = RunShell(Mpirun(2) + Train("whole.mtrec", 128, run));
    ASSERT_EQ(whole.exit_code, 0) << whole.output;
    RunResult first = RunShell(Mpirun(2) + Train("part.mtrec", 128, run + " train.stop_after_epochs=1"));
    ASSERT_EQ(first.exit_code, 0) << first.output;
    EXPECT_FALSE(ReadFileBytes(dir_ / "whole.mtrec") == ReadFileBytes(dir_ / "part.mtrec"));
    RunResult resumed =
        RunShell(Mpirun(2) + Train("part.mtrec", 128, run + " --resume " + (dir_ / "part.mtrec.ckpt").string()));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_TRUE(ReadFileBytes(dir_ / "whole.mtrec") == ReadFileBytes(dir_ / "part.mtrec"));
  }
}

// Every weight of two models exactly equal: the embedding tables and the dense tensors.
void ExpectIdenticalWeights(const std::filesystem::path& one, const std::filesystem::path& two) {
  LoadedModel a = LoadModel(one.string());
  LoadedModel b = LoadModel(two.string());
  const auto& infos = a.model->arena().Infos();
  ASSERT_EQ(infos.size(), b.model->arena().Infos().size());
  for (size_t i = 0; i < infos.size(); ++i) {
    const auto n = static_cast<size_t>(infos[i].rows * infos[i].cols);
    EXPECT_TRUE(std::equal(a.model->arena().Value(i), a.model->arena().Value(i) + n, b.model->arena().Value(i)))
        << infos[i].name;
  }
  const auto& tables_a = a.model->input().tables();
  const auto& tables_b = b.model->input().tables();
  ASSERT_EQ(tables_a.size(), tables_b.size());
  for (size_t t = 0; t < tables_a.size(); ++t) {
    ASSERT_EQ(tables_a[t].rows(), tables_b[t].rows()) << tables_a[t].name();
    const auto n = static_cast<size_t>(tables_a[t].rows() * tables_a[t].dim());
    EXPECT_TRUE(std::equal(tables_a[t].data(), tables_a[t].data() + n, tables_b[t].data())) << tables_a[t].name();
  }
}

// Row-sharded tables (each rank holds every second row and its optimizer state; a batch's rows are fetched from
// their owners and their gradients summed there in rank order) train the model replicated tables train, bit for
// bit: with Adagrad and lazy Adam, a pooled multi-valued slot, per-task embedding sets (single_task), validation
// on both ranks and the best of two epochs restored from the whole tables rank 0 gathered.
TEST_F(DistributedTest, RowShardedTablesTrainTheModelOfReplicatedOnes) {
  for (const std::string setting : {"model.arch=mmoe model.experts=3 model.dropout=0.1 train.epochs=2",
                                    "model.arch=single_task train.embedding_optimizer=lazy_adam train.epochs=1"}) {
    SCOPED_TRACE(setting);
    const std::string run = setting + " train.patience=0 train.embedding_lr=0.5";
    // Without -q: the logs say which tables are sharded.
    RunResult replicated = RunShell(Mpirun(2) + Train("replicated.mtrec", 128, run).substr(3));
    ASSERT_EQ(replicated.exit_code, 0) << replicated.output;
    RunResult sharded = RunShell(Mpirun(2) + Train("sharded.mtrec", 128, run + " train.shard_rows=0").substr(3));
    ASSERT_EQ(sharded.exit_code, 0) << sharded.output;
    ExpectIdenticalWeights(dir_ / "replicated.mtrec", dir_ / "sharded.mtrec");
    EXPECT_NE(sharded.output.find("row-sharded over 2 ranks (train.shard_rows = 0): embeddings"), std::string::npos)
        << sharded.output;
    // The default (a million rows) keeps these small tables replicated.
    EXPECT_EQ(replicated.output.find("row-sharded"), std::string::npos) << replicated.output;
  }
}

// A setting that needs every table whole on every rank is refused with the way out.
TEST_F(DistributedTest, AnAverageOfTheWeightsOverShardedTablesIsRefused) {
  RunResult refused = RunShell("timeout -s KILL 120 " + Mpirun(2) +
                               Train("x.mtrec", 128, "train.shard_rows=0 train.ema_decay=0.99"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("set train.ema_decay = 0, or train.shard_rows above the largest table"),
            std::string::npos)
      << refused.output;
}

// Each rank parses only its own byte range of the training file. A row near the middle holds a quoted value of
// about 2,000 bytes over 40 lines, so the cut between the two ranks' ranges falls inside a quoted field (a split at
// the nearest newline would tear that record), and the lines after it are numbered right only if the newlines of
// rank 0's range were counted for rank 1. Bad rows in both halves are skipped and reported by their true lines, and
// the two ranks train the model of one process that read the whole file.
TEST_F(DistributedTest, EachRankReadsItsOwnRangeOfTheFileWithTrueLineNumbers) {
  const std::string original = ReadFileBytes((dir_ / "train.csv").string());
  std::vector<std::string> lines;
  for (size_t begin = 0; begin < original.size();) {
    const size_t end = original.find('\n', begin);
    lines.push_back(original.substr(begin, end - begin));
    begin = end + 1;
  }
  const std::string header = lines.front();
  std::vector<std::string> rows(lines.begin() + 1, lines.end());
  ASSERT_GT(rows.size(), 2000u);
  const size_t device = static_cast<size_t>(std::count(header.begin(), header.begin() + header.find("device"), ','));
  std::string quoted = "\"";
  for (int i = 0; i < 40; ++i) quoted += std::string(49, 'x') + "\n";
  quoted += "\"";
  // The middle row's device field replaced by the quoted value.
  std::string& middle = rows[rows.size() / 2];
  size_t field_begin = 0;
  for (size_t f = 0; f < device; ++f) field_begin = middle.find(',', field_begin) + 1;
  middle.replace(field_begin, middle.find(',', field_begin) - field_begin, quoted);
  // Writes the rows with bad ones before the given rows; returns the bad rows' physical lines.
  auto write = [&](const std::filesystem::path& path, const std::vector<size_t>& bad_before) {
    std::string text = header + "\n";
    size_t line = 2;
    std::vector<size_t> bad_lines;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (std::find(bad_before.begin(), bad_before.end(), r) != bad_before.end()) {
        text += "bad,row\n";
        bad_lines.push_back(line++);
      }
      text += rows[r] + "\n";
      line += 1 + static_cast<size_t>(std::count(rows[r].begin(), rows[r].end(), '\n'));
    }
    WriteText(path, text);
    return bad_lines;
  };
  const std::vector<size_t> bad = write(dir_ / "train.csv", {rows.size() / 4, rows.size() * 3 / 4});
  const std::string settings = "data.on_error=skip data.cache=false";
  RunResult one = RunMtrec(Train("one.mtrec", 256, settings));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = RunShell(Mpirun(2) + Train("two.mtrec", 128, settings).substr(3));  // with the log
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("each read its own range of the training file"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find(fmt::format("{} rows from {}, 2 bad rows skipped", rows.size(),
                                        (dir_ / "train.csv").string())),
            std::string::npos)
      << two.output;
  for (size_t line : bad) {
    EXPECT_NE(two.output.find(fmt::format("skipped {}:{}: expected", (dir_ / "train.csv").string(), line)),
              std::string::npos)
        << "line " << line << "\n" << two.output;
  }
  ExpectSameModel(dir_ / "one.mtrec", dir_ / "two.mtrec");

  // A bad row in rank 1's range only, with bad rows refused: the job ends with rank 1's message and its true line.
  const std::vector<size_t> late = write(dir_ / "late.csv", {rows.size() * 3 / 4});
  RunResult refused = RunShell("timeout -s KILL 120 " + Mpirun(2) +
                               Train("late.mtrec", 128, "data.cache=false data.train=" + (dir_ / "late.csv").string()));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find(fmt::format("error on rank 1 of 2: {}:{}: expected", (dir_ / "late.csv").string(),
                                            late.front())),
            std::string::npos)
      << refused.output;
}

// A warm start under mpirun (--init-from): every rank carries the base model's weights, vocabularies and numeric
// transforms, admits the new ids the ranks' rows hold together, and the two ranks train the model one process
// trains from the same base with twice the batch.
TEST_F(DistributedTest, AWarmStartOnTwoRanksEqualsOneProcessWithTwiceTheBatch) {
  // The base saw the first 600 rows only: the whole file holds ids it lacks, some of them (min_count 2 for user
  // ids) only when both ranks' counts are added up.
  const std::string rows = ReadFileBytes((dir_ / "train.csv").string());
  size_t cut = 0;
  for (int line = 0; line <= 600; ++line) cut = rows.find('\n', cut) + 1;
  WriteText(dir_ / "first.csv", rows.substr(0, cut));
  RunResult base = RunMtrec(Train("base.mtrec", 256, "model.arch=mmoe model.experts=2 train.embedding_optimizer=sgd "
                                  "data.train=" + (dir_ / "first.csv").string()));
  ASSERT_EQ(base.exit_code, 0) << base.output;
  // Ids admitted and numeric transforms refitted over all ranks' rows, as one process does over its own.
  const std::string warm = "model.arch=mmoe model.experts=2 train.embedding_optimizer=sgd train.admit_new_ids=true "
                           "train.refit_numeric=true --init-from " + (dir_ / "base.mtrec").string();
  RunResult one = RunMtrec(Train("warm1.mtrec", 256, warm + " train.seed=3"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  RunResult two = RunShell(Mpirun(2) + Train("warm2.mtrec", 128, warm + " train.seed=3").substr(3));  // logged
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("feature user_id: "), std::string::npos) << "no new user ids admitted\n" << two.output;
  ExpectSameModel(dir_ / "warm1.mtrec", dir_ / "warm2.mtrec");
  // The warm start did carry the base: its embeddings differ from a fresh run's.
  RunResult fresh = RunShell(Mpirun(2) + Train("fresh2.mtrec", 128, "model.arch=mmoe model.experts=2 "
                                               "train.embedding_optimizer=sgd train.seed=3"));
  ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
  LoadedModel a = LoadModel((dir_ / "warm2.mtrec").string());
  LoadedModel b = LoadModel((dir_ / "fresh2.mtrec").string());
  const auto& ta = a.model->input().tables();
  const auto& tb = b.model->input().tables();
  ASSERT_FALSE(ta.empty());
  ASSERT_EQ(ta[0].rows(), tb[0].rows());
  EXPECT_GT(RelativeDifference(ta[0].Row(0), tb[0].Row(0), static_cast<size_t>(ta[0].rows() * ta[0].dim())), 1e-2);
}

TEST_F(DistributedTest, AnErrorOnTheRanksEndsTheJobWithItsMessage) {
  const auto start = std::chrono::steady_clock::now();
  RunResult refused = RunShell("timeout -s KILL 120 " + Mpirun(2) + Train("x.mtrec", 128, "--follow " + dir_.string()));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find(" of 2: --follow runs in one process; under mpirun train from scratch, --resume or "
                                "--init-from"),
            std::string::npos)
      << refused.output;
  // A setting every rank refuses: the first rank to see it ends the job.
  RunResult bad = RunShell("timeout -s KILL 120 " + Mpirun(2) + Train("x.mtrec", 128, "train.weighting=nonsense"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find(" of 2: "), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("nonsense"), std::string::npos) << bad.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(100));

  RunResult other = RunShell(Mpirun(2) + "-q inspect " + (dir_ / "x.mtrec").string());
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("mtrec inspect runs in one process"), std::string::npos) << other.output;
}

TEST_F(DistributedTest, ADeadRankStopsTheJob) {
  // Many epochs on one thread: long enough to kill one of the ranks while they train.
  const std::string out = (dir_ / "dead.mtrec").string();
  // Once both ranks run (timeout, mpirun and the two ranks match), the newest process is a rank: kill it.
  WriteText(dir_ / "kill.sh",
            "timeout -s KILL 120 " + Mpirun(2) + Train("dead.mtrec", 64, "train.epochs=5000 train.early_stop_metric=none") + " &\n"
            "for i in $(seq 1 300); do\n"
            "  if [ \"$(pgrep -c -f -- '--out " + out + "')\" -ge 4 ]; then\n"
            "    sleep 1; kill -KILL \"$(pgrep -n -f -- '--out " + out + "')\"; break\n"
            "  fi\n"
            "  sleep 0.1\n"
            "done\n"
            "wait %1\n"
            "echo exit=$?\n");
  const auto start = std::chrono::steady_clock::now();
  RunResult killed = RunShell("bash " + (dir_ / "kill.sh").string());
  const std::string& text = killed.output;
  EXPECT_EQ(text.find("exit=0"), std::string::npos) << text;
  // mpirun ends with the killed rank's status (137) and says which rank died; it did not wait for the timeout.
  EXPECT_NE(text.find("exited on signal 9"), std::string::npos) << text;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(100)) << "the job waited for the timeout";
  EXPECT_FALSE(std::filesystem::exists(out)) << "a model was written by a job that lost a rank";
}

}  // namespace
}  // namespace mtrec::e2e
