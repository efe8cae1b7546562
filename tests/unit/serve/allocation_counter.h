// Counts the C++ allocations (every form of operator new, which std::string, std::vector and the containers use)
// of this test program: in all, and on the calling thread. serve_tests replaces the global operator new for it;
// the counters cost one increment each and change nothing else.
//
//   const int64_t before = AllocationsOnThisThread();
//   Work();
//   EXPECT_EQ(AllocationsOnThisThread() - before, 0);
#pragma once

#include <cstdint>

namespace mtrec {

int64_t AllocationsInProcess();
int64_t AllocationsOnThisThread();

}  // namespace mtrec
