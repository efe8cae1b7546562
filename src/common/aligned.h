// A fixed-size, 64-byte aligned, zero-initialised array: the storage of parameter arenas and activations.
//
//   AlignedBuffer<float> weights(rows * cols);
//   std::fill(weights.begin(), weights.end(), 0.f);
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace mtrec {

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size) { Resize(size); }

  // Drops the old contents; the new contents are zero.
  void Resize(size_t size) {
    size_t bytes = ((size * sizeof(T) + kAlignment - 1) / kAlignment) * kAlignment;
    void* p = bytes ? std::aligned_alloc(kAlignment, bytes) : nullptr;
    if (bytes && !p) throw std::bad_alloc();
    if (p) std::memset(p, 0, bytes);
    data_.reset(static_cast<T*>(p));
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
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

}  // namespace mtrec
