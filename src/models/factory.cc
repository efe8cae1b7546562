#include "common/error.h"
#include "models/model.h"
#include "models/shared_bottom.h"

namespace mtrec {

// One explicit switch over the architectures (no self-registration), so every model is visible here.
std::unique_ptr<Model> CreateModel(const Config& config, const InputLayout& layout, int64_t max_batch) {
  const std::string& arch = config.model.arch;
  if (arch == "shared_bottom") return std::make_unique<SharedBottom>(config, layout, max_batch);
  Fail("model.arch '{}' is not an architecture this mtrec knows", arch);
}

}  // namespace mtrec
