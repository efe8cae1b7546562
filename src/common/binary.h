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

// Writes what BinaryWriter writes, as a list of pieces instead of one string: fields go into small buffers it owns,
// and ArrayView / StringView take large data where it lies (it must stay alive and unchanged until the pieces are
// written). A file of a large model is then written without its bytes ever being assembled in memory.
//
//   PieceWriter w;  w.Pod<uint32_t>(1);  w.ArrayView(table.data(), table.size());
//   WriteFileAtomic(path, w.Pieces());          // or w.Join() for the bytes BinaryWriter would give
class PieceWriter {
 public:
  template <typename T>
  void Pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    Append(std::string_view(reinterpret_cast<const char*>(&value), sizeof(T)));
  }
  void String(std::string_view text) {
    Pod<uint64_t>(text.size());
    Append(text);
  }
  void Bytes(std::string_view bytes) { Append(bytes); }
  // Bytes handed over whole: kept as a piece of their own, not copied.
  void Take(std::string bytes) {
    size_ += bytes.size();
    pieces_.push_back({static_cast<int64_t>(owned_.size()), {}});
    owned_.push_back(std::move(bytes));
    pieces_.push_back({-1, {}});  // the next field starts a buffer of its own
  }
  // As String, with the text viewed, not copied.
  void StringView(std::string_view text) {
    Pod<uint64_t>(text.size());
    View(text);
  }
  // As BinaryWriter::Array, with the values viewed, not copied.
  template <typename T>
  void ArrayView(const T* data, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    Pod<uint64_t>(count);
    Align(8);
    if (count) View(std::string_view(reinterpret_cast<const char*>(data), count * sizeof(T)));
  }
  void Align(size_t alignment) {
    static constexpr char kZeros[16] = {};
    if (size_ % alignment) Append(std::string_view(kZeros, alignment - size_ % alignment));
  }
  size_t size() const { return size_; }

  // The pieces in order; valid while this writer and the viewed data live unchanged.
  std::vector<std::string_view> Pieces() const {
    std::vector<std::string_view> pieces;
    for (const Piece& piece : pieces_) pieces.push_back(piece.owned >= 0 ? owned_[piece.owned] : piece.view);
    return pieces;
  }
  std::string Join() const {
    std::string out;
    out.reserve(size_);
    for (std::string_view piece : Pieces()) out.append(piece);
    return out;
  }

 private:
  struct Piece {
    int64_t owned;  // index into owned_, or -1 for a view
    std::string_view view;
  };
  void Append(std::string_view bytes) {
    if (pieces_.empty() || pieces_.back().owned < 0) {
      pieces_.push_back({static_cast<int64_t>(owned_.size()), {}});
      owned_.emplace_back();
    }
    owned_.back().append(bytes);
    size_ += bytes.size();
  }
  void View(std::string_view bytes) {
    pieces_.push_back({-1, bytes});
    size_ += bytes.size();
  }
  std::vector<std::string> owned_;  // views into them are made only by Pieces(), after the writing
  std::vector<Piece> pieces_;
  size_t size_ = 0;
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
