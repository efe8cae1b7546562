// The processes of one run (`mpirun -np N mtrec train`): each one's rank, their number, and the collective
// operations data-parallel training needs. A process started alone is a world of one, whose operations leave
// their input as it is, so code written for N ranks runs unchanged in one process. The MPI implementation lives
// in dist/ and is installed by the executable's main; libraries only see this interface.
//
//   Communicator& world = World();
//   world.AllReduceSum(grads.data(), grads.size());   // every rank now holds the sum over ranks
//   if (world.rank() == 0) SaveModel(...);            // one rank writes
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mtrec {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  bool distributed() const { return size() > 1; }
  bool is_root() const { return rank() == 0; }

  // Element-wise sums (and maxima) over the ranks, in place; every rank gets the same result.
  virtual void AllReduceSum(float* data, size_t n) {}
  virtual void AllReduceSum(double* data, size_t n) {}
  virtual void AllReduceSum(int64_t* data, size_t n) {}
  virtual void AllReduceMax(int64_t* data, size_t n) {}
  // Every rank's bytes, in rank order, on every rank: `all` holds them one after the other, rank r's from
  // offsets[r] to offsets[r + 1] (size() + 1 offsets). Both keep their capacity from call to call.
  virtual void AllGather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets);
  // The same, as one string per rank.
  std::vector<std::string> AllGather(std::string_view bytes);
  // Every rank's bytes on `root` only, as AllGather lays them out; the other ranks get `all` and `offsets` empty.
  virtual void Gather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets, int root);
  // A personal exchange: this rank's bytes for rank p are out[out_offsets[p], out_offsets[p + 1]) (size() + 1
  // offsets); afterwards `in` holds what every rank sent to this one, rank p's at [in_offsets[p], in_offsets[p + 1]).
  virtual void AllToAll(std::string_view out, const std::vector<size_t>& out_offsets, std::string& in,
                        std::vector<size_t>& in_offsets);
  // The root's bytes on every rank.
  virtual void Broadcast(std::string& bytes, int root) {}
  // Ends every process of the run at once (an error on one rank must not leave the others waiting in a
  // collective); a world of one just exits.
  [[noreturn]] virtual void Abort(int code);
};

// The run's world: a world of one unless main installed another (dist/mpi_communicator.h).
Communicator& World();
void SetWorld(std::unique_ptr<Communicator> world);

}  // namespace mtrec
