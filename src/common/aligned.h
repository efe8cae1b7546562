// A fixed-size, 64-byte aligned, zero-initialised array: the storage of parameter arenas and activations.
// Large arrays are mapped from the kernel's zero pages and take memory only where they are written: a layer's
// buffers are sized for its largest batch, and a model that only infers never writes its gradient buffers.
// Moving hands the array over; Share() makes a second owner of the same array (the served copies of a model read
// one set of weights), which is freed with its last owner.
//
//   AlignedBuffer<float> weights(rows * cols);
//   std::fill(weights.begin(), weights.end(), 0.f);
//   AlignedBuffer<float> also = weights.Share();   // also.data() == weights.data()
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

namespace mtrec {

// Bytes of every AlignedBuffer alive, written or not: what they may come to take (see memory.h).
inline std::atomic<int64_t> g_aligned_bytes{0};

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kMapBytes = size_t{1} << 18;  // from 256 KiB: mapped (page-aligned, zero until written)

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size) { Resize(size); }
  AlignedBuffer(AlignedBuffer&& other) noexcept : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;  // a copy would share silently: Share() says so
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // A second owner of this array (not a copy): writes through either are seen by both.
  AlignedBuffer Share() const {
    AlignedBuffer shared;
    shared.data_ = data_;
    shared.size_ = size_;
    return shared;
  }
  // Whether another AlignedBuffer owns this array too.
  bool shared() const { return data_.use_count() > 1; }
  // `size` values at `data` inside memory that `owner` keeps alive (a model file's bytes), as a buffer: nothing is
  // allocated or copied, nor counted in g_aligned_bytes. `data` need only be aligned for T; it must not be written.
  static AlignedBuffer View(std::shared_ptr<const void> owner, const T* data, size_t size) {
    AlignedBuffer view;
    view.data_ = std::shared_ptr<T>(std::const_pointer_cast<void>(std::move(owner)), const_cast<T*>(data));
    view.size_ = size;
    return view;
  }

  // Drops the old contents; the new contents are zero.
  void Resize(size_t size) {
    data_.reset();
    size_ = 0;
    const size_t bytes = ((size * sizeof(T) + kAlignment - 1) / kAlignment) * kAlignment;
    if (bytes == 0) return;
    void* p = nullptr;
    if (bytes >= kMapBytes) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
    } else {
      p = std::aligned_alloc(kAlignment, bytes);
      if (!p) throw std::bad_alloc();
      std::memset(p, 0, bytes);
    }
    // Counted first: should the owner's bookkeeping fail to allocate, the deleter frees the array and uncounts it.
    g_aligned_bytes += static_cast<int64_t>(bytes);
    data_ = std::shared_ptr<T>(static_cast<T*>(p), Free{bytes >= kMapBytes ? bytes : 0, bytes});
    size_ = size;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    size_t mapped_bytes = 0;  // > 0: a mapping of that length
    size_t bytes = 0;         // counted in g_aligned_bytes
    void operator()(T* p) const {
      g_aligned_bytes -= static_cast<int64_t>(bytes);
      if (mapped_bytes > 0) {
        munmap(p, mapped_bytes);
      } else {
        std::free(p);
      }
    }
  };
  std::shared_ptr<T> data_;
  size_t size_ = 0;
};

}  // namespace mtrec
