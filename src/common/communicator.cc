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

void Communicator::Gather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets, int /*root*/) {
  AllGather(bytes, all, offsets);
}

void Communicator::AllToAll(std::string_view out, const std::vector<size_t>& out_offsets, std::string& in,
                            std::vector<size_t>& in_offsets) {
  in.assign(out.substr(out_offsets[0], out_offsets[1] - out_offsets[0]));
  in_offsets = {0, in.size()};
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
