// The container of mtrec's model and checkpoint files: a magic, a format version, a table of named sections,
// each with its own CRC-32, and the header's own CRC. A file from a newer format, a truncated file or a damaged
// section is refused with a message that says which, never read half-way. See docs/model_format.md.
//
//   SectionFile file;
//   file.Add("config", toml_text);
//   file.Write("model.mtrec");                          // atomic
//   SectionFile loaded = SectionFile::Read("model.mtrec");
//   std::string_view config = loaded.Get("config");
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/binary.h"

namespace mtrec {

inline constexpr char kModelMagic[8] = {'M', 'T', 'R', 'E', 'C', 'M', 'D', 'L'};
// Version 1: sections meta, config, features, weights, history (+ trainer in checkpoints).
inline constexpr uint32_t kModelFormatVersion = 1;
inline constexpr size_t kSectionNameBytes = 24;

class SectionFile {
 public:
  SectionFile() = default;
  SectionFile(SectionFile&&) = default;
  SectionFile& operator=(SectionFile&&) = default;
  SectionFile(const SectionFile&) = delete;  // its sections are views into its own bytes
  SectionFile& operator=(const SectionFile&) = delete;

  void Add(std::string name, std::string bytes);
  bool Has(std::string_view name) const;
  // Error naming the file and the missing section.
  std::string_view Get(std::string_view name) const;
  // Views into the file's bytes (parsed) or the sections added: valid while this object lives.
  const std::vector<std::pair<std::string, std::string_view>>& sections() const { return sections_; }
  uint32_t version() const { return version_; }
  // A parsed file's bytes, which its sections view (none for a file built by Add): a reader may keep them, and
  // views into them, beyond this object.
  const std::shared_ptr<const std::string>& bytes() const { return bytes_; }

  std::string Serialize() const;
  void Write(const std::string& path) const;
  // The sections are views into `bytes`, kept by the file: nothing is copied.
  static SectionFile Parse(std::string bytes, const std::string& path);
  static SectionFile Read(const std::string& path);

 private:
  std::shared_ptr<const std::string> bytes_;
  std::deque<std::string> added_;  // a deque: adding a section moves none of the others
  std::vector<std::pair<std::string, std::string_view>> sections_;
  uint32_t version_ = kModelFormatVersion;
  std::string path_;
};

// Writes the same file section by section, without assembling its bytes in memory: a section is bytes handed over,
// or a PieceWriter whose large arrays are viewed where they lie (the weights of a big embedding table are written
// straight from the model). What it writes is SectionFile's format, byte for byte.
//
//   SectionWriter file;
//   file.Add("config", toml_text);
//   PieceWriter weights;  weights.ArrayView(table.data(), table.size());
//   file.Add("weights", std::move(weights));
//   file.Write("model.mtrec");                          // atomic; the viewed data must live until then
class SectionWriter {
 public:
  void Add(std::string name, std::string bytes);
  void Add(std::string name, PieceWriter pieces);
  void Write(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, PieceWriter>> sections_;
};

}  // namespace mtrec
