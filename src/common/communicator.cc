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

Communicator& World() { return *WorldSlot(); }

void SetWorld(std::unique_ptr<Communicator> world) { WorldSlot() = std::move(world); }

}  // namespace mtrec
