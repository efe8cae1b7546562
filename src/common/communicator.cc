#include "common/communicator.h"

#include <cstdlib>

namespace mtrec {
namespace {

std::unique_ptr<Communicator>& WorldSlot() {
  static std::unique_ptr<Communicator> world = std::make_unique<Communicator>();
  return world;
}

}  // namespace

void Communicator::Abort(int code) { std::exit(code); }

void Communicator::AllGather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets) {
  all.assign(bytes);
  offsets = {0, bytes.size()};
}

std::vector<std::string> Communicator::AllGather(std::string_view bytes) {
  std::string all;
  std::vector<size_t> offsets;
  AllGather(bytes, all, offsets);
  std::vector<std::string> out;
  for (size_t r = 0; r + 1 < offsets.size(); ++r) out.push_back(all.substr(offsets[r], offsets[r + 1] - offsets[r]));
  return out;
}

Communicator& World() { return *WorldSlot(); }

void SetWorld(std::unique_ptr<Communicator> world) { WorldSlot() = std::move(world); }

}  // namespace mtrec
