#include "common/error.h"
#include "models/aitm.h"
#include "models/cross_stitch.h"
#include "models/mixture_of_experts.h"
#include "models/model.h"
#include "models/ple.h"
#include "models/shared_bottom.h"
#include "models/task_towers.h"

namespace mtrec {

// One explicit switch over the architectures (no self-registration), so every model is visible here.
std::unique_ptr<Model> CreateModel(const Config& config, const InputLayout& layout, int64_t max_batch) {
  const std::string& arch = config.model.arch;
  if (arch == "single_task") return std::make_unique<TaskTowers>(config, layout, max_batch, /*own_embeddings=*/true);
  if (arch == "shared_bottom") return std::make_unique<SharedBottom>(config, layout, max_batch);
  if (arch == "omoe") return std::make_unique<MixtureOfExperts>(config, layout, max_batch, /*per_task_gates=*/false);
  if (arch == "mmoe") return std::make_unique<MixtureOfExperts>(config, layout, max_batch, /*per_task_gates=*/true);
  if (arch == "ple") return std::make_unique<Ple>(config, layout, max_batch);
  if (arch == "cross_stitch") return std::make_unique<CrossStitchNetwork>(config, layout, max_batch);
  if (arch == "esmm") return std::make_unique<TaskTowers>(config, layout, max_batch, /*own_embeddings=*/false);
  if (arch == "aitm") return std::make_unique<Aitm>(config, layout, max_batch);
  Fail("model.arch '{}' is not an architecture this mtrec knows", arch);
}

}  // namespace mtrec
