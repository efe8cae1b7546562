// A way for an embedding program to stop long work: the Python module makes Ctrl-C stop a training run. Long loops
// poll InterruptRequested() (each training step) and throw Interrupted; the command line installs no check, so
// nothing is ever requested there (a signal ends the process as it always did).
//
//   SetInterruptCheck([] { return SignalArrived(); });          // by the embedding program
//   if (InterruptRequested()) throw Interrupted();               // in a long loop
#pragma once

#include <functional>

#include "common/error.h"

namespace mtrec {

// The work was stopped at the user's request: not a problem in the input.
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

// `check` answers whether to stop; called from the thread that runs the work. Empty: never.
void SetInterruptCheck(std::function<bool()> check);
bool InterruptRequested();

}  // namespace mtrec
