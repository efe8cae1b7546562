// Little-endian binary encoding shared by mtrec's files (model file, dataset cache). Arrays are 8-byte aligned
// so a reader over a memory-mapped file can hand out pointers into it without copying. Every read is bounds-
// checked: a truncated or damaged file gives an Error naming the file, never a crash.
//
//   BinaryWriter w;  w.Pod<uint32_t>(7);  w.String("click");  w.Array(values.data(), values.size());
//   BinaryReader r(bytes.data(), bytes.size(), "model.mtrec");
//   uint32_t n = r.Pod<uint32_t>();  std::string name = r.String();  size_t count;  const float* v = r.Array<float>(&count);
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/error.h"

namespace mtrec {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "mtrec's file formats assume a little-endian machine");

class BinaryWriter {
 public:
  template <typename T>
  void Pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void String(std::string_view text) {
    Pod<uint64_t>(text.size());
    out_.append(text.data(), text.size());
  }
  template <typename T>
  void Array(const T* data, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    Pod<uint64_t>(count);
    Align(8);
    if (count) out_.append(reinterpret_cast<const char*>(data), count * sizeof(T));
  }
  template <typename T>
  void Vector(const std::vector<T>& values) {
    Array(values.data(), values.size());
  }
  void Align(size_t alignment) {
    while (out_.size() % alignment) out_.push_back('\0');
  }
  void Bytes(std::string_view bytes) { out_.append(bytes); }
  std::string& str() { return out_; }
  size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

class BinaryReader {
 public:
  BinaryReader(const char* data, size_t size, std::string what) : data_(data), size_(size), what_(std::move(what)) {}

  template <typename T>
  T Pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    Need(sizeof(T));
    T value;
    std::memcpy(&value, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }
  std::string String() {
    uint64_t n = Pod<uint64_t>();
    Need(n);
    std::string text(data_ + offset_, n);
    offset_ += n;
    return text;
  }
  // A pointer into the buffer (valid as long as the buffer is).
  template <typename T>
  const T* Array(size_t* count) {
    uint64_t n = Pod<uint64_t>();
    Align(8);
    if (n > (size_ - offset_) / (sizeof(T) ? sizeof(T) : 1)) Damaged();
    const T* p = reinterpret_cast<const T*>(data_ + offset_);
    offset_ += n * sizeof(T);
    *count = n;
    return p;
  }
  template <typename T>
  std::vector<T> Vector() {
    size_t n = 0;
    const T* p = Array<T>(&n);
    return std::vector<T>(p, p + n);
  }
  void Align(size_t alignment) {
    size_t aligned = (offset_ + alignment - 1) / alignment * alignment;
    Need(aligned - offset_);
    offset_ = aligned;
  }
  std::string_view Bytes(size_t n) {
    Need(n);
    std::string_view view(data_ + offset_, n);
    offset_ += n;
    return view;
  }
  size_t offset() const { return offset_; }
  size_t remaining() const { return size_ - offset_; }
  bool AtEnd() const { return offset_ == size_; }

 private:
  void Need(size_t n) const {
    if (n > size_ - offset_) Damaged();
  }
  [[noreturn]] void Damaged() const {
    Fail("'{}' is truncated or damaged (a record at byte {} runs past the end at byte {})", what_, offset_, size_);
  }

  const char* data_;
  size_t size_;
  size_t offset_ = 0;
  std::string what_;
};

}  // namespace mtrec
