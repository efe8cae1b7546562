#include "common/interrupt.h"

#include <utility>

namespace mtrec {
namespace {
std::function<bool()> g_check;
}  // namespace

void SetInterruptCheck(std::function<bool()> check) { g_check = std::move(check); }

bool InterruptRequested() { return g_check && g_check(); }

}  // namespace mtrec
