// N ranks as threads of one test process, with the collectives a distributed read uses (sums, all-gather,
// all-to-all) exchanged through shared memory, so that code written for `mpirun -np N` can be unit-tested for any N
// without MPI.
//
//   RunRanks(3, [&](Communicator& world) { shares[world.rank()] = LoadTableShare(path, data, requests, world); });
#pragma once

#include <barrier>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/communicator.h"

namespace mtrec {

// The state the ranks share: one slot each, written before a barrier and read after it.
struct ThreadWorldState {
  explicit ThreadWorldState(int ranks) : slots(static_cast<size_t>(ranks)), offsets(ranks), barrier(ranks) {}
  std::vector<std::string> slots;
  std::vector<std::vector<size_t>> offsets;
  std::barrier<> barrier;
};

class ThreadWorld : public Communicator {
 public:
  ThreadWorld(int rank, ThreadWorldState& state) : rank_(rank), state_(state) {}
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(state_.slots.size()); }

  void AllReduceSum(float* data, size_t n) override { Reduce(data, n, [](float& a, float b) { a += b; }); }
  void AllReduceSum(double* data, size_t n) override { Reduce(data, n, [](double& a, double b) { a += b; }); }
  void AllReduceSum(int64_t* data, size_t n) override { Reduce(data, n, [](int64_t& a, int64_t b) { a += b; }); }
  void AllReduceMax(int64_t* data, size_t n) override {
    Reduce(data, n, [](int64_t& a, int64_t b) { a = std::max(a, b); });
  }
  void AllGather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets) override {
    state_.slots[rank_] = std::string(bytes);
    state_.barrier.arrive_and_wait();
    all.clear();
    offsets = {0};
    for (const std::string& slot : state_.slots) {
      all += slot;
      offsets.push_back(all.size());
    }
    state_.barrier.arrive_and_wait();
  }
  void Gather(std::string_view bytes, std::string& all, std::vector<size_t>& offsets, int root) override {
    AllGather(bytes, all, offsets);
    if (rank_ != root) {
      all.clear();
      offsets.clear();
    }
  }
  void AllToAll(std::string_view out, const std::vector<size_t>& out_offsets, std::string& in,
                std::vector<size_t>& in_offsets) override {
    state_.slots[rank_] = std::string(out);
    state_.offsets[rank_] = out_offsets;
    state_.barrier.arrive_and_wait();
    in.clear();
    in_offsets = {0};
    for (size_t p = 0; p < state_.slots.size(); ++p) {
      const std::vector<size_t>& from = state_.offsets[p];
      in.append(state_.slots[p], from[rank_], from[rank_ + 1] - from[rank_]);
      in_offsets.push_back(in.size());
    }
    state_.barrier.arrive_and_wait();
  }

 private:
  template <typename T, typename Op>
  void Reduce(T* data, size_t n, Op op) {
    state_.slots[rank_] = std::string(reinterpret_cast<const char*>(data), n * sizeof(T));
    state_.barrier.arrive_and_wait();
    for (size_t i = 0; i < n; ++i) {
      T total{};
      std::memcpy(&total, state_.slots[0].data() + i * sizeof(T), sizeof(T));
      for (size_t p = 1; p < state_.slots.size(); ++p) {
        T value;
        std::memcpy(&value, state_.slots[p].data() + i * sizeof(T), sizeof(T));
        op(total, value);
      }
      data[i] = total;
    }
    state_.barrier.arrive_and_wait();
  }

  int rank_;
  ThreadWorldState& state_;
};

// Runs `body` on `ranks` threads, each with its own rank of one world; an exception on a rank is rethrown here
// after every thread ended (a rank that throws must do so where every rank does, or the others wait forever).
inline void RunRanks(int ranks, const std::function<void(Communicator&)>& body) {
  ThreadWorldState state(ranks);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ThreadWorld world(r, state);
      try {
        body(world);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace mtrec
