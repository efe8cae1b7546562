#include "common/error.h"
#include "models/adatt.h"
#include "models/aitm.h"
#include "models/cross_stitch.h"
#include "models/home.h"
#include "models/mixture_of_experts.h"
#include "models/model.h"
#include "models/pepnet.h"
#include "models/ple.h"
#include "models/shared_bottom.h"
#include "models/stem.h"
#include "models/task_outputs.h"
#include "models/task_towers.h"

namespace mtrec {

// One explicit switch over the architectures (no self-registration), so every model is visible here and the
// compiler points here when an Arch is added. Model::Build completes each one (allocates its parameter arena).
std::unique_ptr<Model> CreateModel(const Config& task_config, const InputLayout& layout, int64_t max_batch) {
  const Config config = HeadsConfig(task_config);
  switch (config.model.arch) {
    case Arch::kSingleTask:
      return Model::Build<TaskTowers>(config, layout, max_batch, /*own_embeddings=*/true);
    case Arch::kSharedBottom:
      return Model::Build<SharedBottom>(config, layout, max_batch);
    case Arch::kOmoe:
      return Model::Build<MixtureOfExperts>(config, layout, max_batch, /*per_task_gates=*/false);
    case Arch::kMmoe:
      return Model::Build<MixtureOfExperts>(config, layout, max_batch, /*per_task_gates=*/true);
    case Arch::kPle:
      return Model::Build<Ple>(config, layout, max_batch);
    case Arch::kCrossStitch:
      return Model::Build<CrossStitchNetwork>(config, layout, max_batch);
    case Arch::kEsmm:
      return Model::Build<TaskTowers>(config, layout, max_batch, /*own_embeddings=*/false);
    case Arch::kAitm:
      return Model::Build<Aitm>(config, layout, max_batch);
    case Arch::kAdatt:
      return Model::Build<Adatt>(config, layout, max_batch);
    case Arch::kStem:
      return Model::Build<Stem>(config, layout, max_batch);
    case Arch::kPepnet:
      return Model::Build<Pepnet>(config, layout, max_batch);
    case Arch::kHome:
      return Model::Build<Home>(config, layout, max_batch);
  }
  Fail("model.arch {} is not an architecture this mtrec knows", static_cast<int>(config.model.arch));
}

}  // namespace mtrec
