#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "common/error.h"

namespace mtrec {
namespace {

// MPI counts are ints: a longer buffer goes in pieces.
constexpr size_t kMaxCount = INT_MAX / 2;

template <typename T>
void AllReduceInPieces(T* data, size_t n, MPI_Datatype type, MPI_Op op) {
  for (size_t done = 0; done < n;) {
    const size_t piece = std::min(n - done, kMaxCount);
    MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(piece), type, op, MPI_COMM_WORLD);
    done += piece;
  }
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void AllReduceSum(float* data, size_t n) override { AllReduceInPieces(data, n, MPI_FLOAT, MPI_SUM); }
  void AllReduceSum(double* data, size_t n) override { AllReduceInPieces(data, n, MPI_DOUBLE, MPI_SUM); }
  void AllReduceSum(int64_t* data, size_t n) override { AllReduceInPieces(data, n, MPI_INT64_T, MPI_SUM); }
  void AllReduceMax(int64_t* data, size_t n) override { AllReduceInPieces(data, n, MPI_INT64_T, MPI_MAX); }

  using Communicator::AllGather;
  void AllGather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets) override {
    MTREC_CHECK(bytes.size() <= kMaxCount, "a rank's share of an exchange is {} bytes, over MPI's limit of {}",
                bytes.size(), kMaxCount);
    const int mine = static_cast<int>(bytes.size());
    sizes_.resize(size_);
    MPI_Allgather(&mine, 1, MPI_INT, sizes_.data(), 1, MPI_INT, MPI_COMM_WORLD);
    PlaceReceived(offsets);
    all.resize(offsets[size_]);
    MPI_Allgatherv(bytes.data(), mine, MPI_BYTE, all.data(), sizes_.data(), displacements_.data(), MPI_BYTE,
                   MPI_COMM_WORLD);
  }

  void Gather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets, int root) override {
    MTREC_CHECK(bytes.size() <= kMaxCount, "a rank's share of a gather is {} bytes, over MPI's limit of {}",
                bytes.size(), kMaxCount);
    const int mine = static_cast<int>(bytes.size());
    sizes_.resize(size_);
    MPI_Gather(&mine, 1, MPI_INT, sizes_.data(), 1, MPI_INT, root, MPI_COMM_WORLD);
    all.clear();
    offsets.clear();
    if (rank_ == root) {
      PlaceReceived(offsets);
      all.resize(offsets[size_]);
    }
    MPI_Gatherv(bytes.data(), mine, MPI_BYTE, all.data(), sizes_.data(), displacements_.data(), MPI_BYTE, root,
                MPI_COMM_WORLD);
  }

  void AllToAll(std::string_view out, const std::vector<size_t>& out_offsets, std::string& in,
                std::vector<size_t>& in_offsets) override {
    MTREC_CHECK(out_offsets.size() == static_cast<size_t>(size_) + 1 && out_offsets[size_] <= out.size(),
                "an exchange with {} offsets for {} ranks", out_offsets.size(), size_);
    send_sizes_.resize(size_);
    send_displacements_.resize(size_);
    for (int r = 0; r < size_; ++r) {
      MTREC_CHECK(out_offsets[r + 1] <= kMaxCount, "an exchange of {} bytes and more is over MPI's limit of {}",
                  out_offsets[r + 1], kMaxCount);
      send_sizes_[r] = static_cast<int>(out_offsets[r + 1] - out_offsets[r]);
      send_displacements_[r] = static_cast<int>(out_offsets[r]);
    }
    sizes_.resize(size_);
    MPI_Alltoall(send_sizes_.data(), 1, MPI_INT, sizes_.data(), 1, MPI_INT, MPI_COMM_WORLD);
    PlaceReceived(in_offsets);
    in.resize(in_offsets[size_]);
    MPI_Alltoallv(out.data(), send_sizes_.data(), send_displacements_.data(), MPI_BYTE, in.data(), sizes_.data(),
                  displacements_.data(), MPI_BYTE, MPI_COMM_WORLD);
  }

  void Broadcast(std::string& bytes, int root) override {
    uint64_t length = bytes.size();
    MPI_Bcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
    MTREC_CHECK(length <= kMaxCount, "a broadcast of {} bytes is over MPI's limit of {}", length, kMaxCount);
    bytes.resize(length);
    MPI_Bcast(bytes.data(), static_cast<int>(length), MPI_BYTE, root, MPI_COMM_WORLD);
  }

  [[noreturn]] void Abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  // From the sizes each rank sends this one (sizes_): where rank r's bytes go, as offsets (size_ + 1) and as MPI's
  // int displacements, checked against MPI's int counts.
  void PlaceReceived(std::vector<size_t>& offsets) {
    displacements_.assign(size_, 0);
    offsets.assign(size_ + 1, 0);
    for (int r = 0; r < size_; ++r) {
      offsets[r + 1] = offsets[r] + static_cast<size_t>(sizes_[r]);
      MTREC_CHECK(offsets[r + 1] <= kMaxCount, "an exchange of {} bytes and more is over MPI's limit of {}",
                  offsets[r + 1], kMaxCount);
      displacements_[r] = static_cast<int>(offsets[r]);
    }
  }

  int rank_ = 0;
  int size_ = 1;
  std::vector<int> sizes_, displacements_;  // received sizes and places, kept from call to call
  std::vector<int> send_sizes_, send_displacements_;
};

}  // namespace

bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

MpiSession::MpiSession(int* argc, char*** argv) {
  if (!LaunchedByMpi()) return;
  int provided = 0;
  // Collectives are called from the main thread only; OpenMP workers never touch MPI.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  active_ = true;
}

MpiSession::~MpiSession() {
  if (active_) MPI_Finalize();
}

std::unique_ptr<Communicator> MpiSession::World() const { return std::make_unique<MpiCommunicator>(); }

}  // namespace mtrec
