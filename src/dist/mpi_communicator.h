// The world of a run started by mpirun (OpenMPI, or any MPI whose launcher sets PMI/PMIx variables): MPI is
// initialised only when the process was launched that way, so a plain `mtrec train` never touches MPI (an MPI
// singleton would start a helper daemon for nothing).
//
//   MpiSession mpi(&argc, &argv);   // first thing in main; finalises MPI when main returns
//   if (mpi.active()) SetWorld(mpi.World());
#pragma once

#include <memory>

#include "common/communicator.h"

namespace mtrec {

// Whether this process was started by an MPI launcher (its environment names a rank).
bool LaunchedByMpi();

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);  // MPI_Init_thread when LaunchedByMpi()
  ~MpiSession();                        // MPI_Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  bool active() const { return active_; }
  // A communicator over MPI_COMM_WORLD; only when active().
  std::unique_ptr<Communicator> World() const;

 private:
  bool active_ = false;
};

}  // namespace mtrec
