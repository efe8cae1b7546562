#include "io/model_file.h"

#include <cstring>

#include "common/binary.h"
#include "common/checksum.h"
#include "common/error.h"
#include "common/files.h"

namespace mtrec {
namespace {

constexpr size_t kHeaderBytes = 16;     // magic, version, section count
constexpr size_t kEntryBytes = kSectionNameBytes + 8 + 8 + 4 + 4;  // name, offset, size, crc, reserved

}  // namespace

void SectionFile::Add(std::string name, std::string bytes) {
  MTREC_CHECK(name.size() < kSectionNameBytes, "section name '{}' is too long", name);
  added_.push_back(std::move(bytes));
  sections_.emplace_back(std::move(name), added_.back());
}

bool SectionFile::Has(std::string_view name) const {
  for (const auto& section : sections_) {
    if (section.first == name) return true;
  }
  return false;
}

std::string_view SectionFile::Get(std::string_view name) const {
  for (const auto& section : sections_) {
    if (section.first == name) return section.second;
  }
  Fail("'{}' has no '{}' section; it is not a complete mtrec model file", path_, name);
}

namespace {

// The magic, version, section table (name, offset, size, CRC of each) and the header's own CRC, for sections of
// the given sizes and CRCs; the sections follow, each padded to 8 bytes.
std::string Header(const std::vector<std::string>& names, const std::vector<uint64_t>& sizes,
                   const std::vector<uint32_t>& crcs) {
  BinaryWriter w;
  w.Bytes(std::string_view(kModelMagic, sizeof(kModelMagic)));
  w.Pod<uint32_t>(kModelFormatVersion);
  w.Pod<uint32_t>(static_cast<uint32_t>(names.size()));
  size_t offset = kHeaderBytes + names.size() * kEntryBytes + 8;
  for (size_t i = 0; i < names.size(); ++i) {
    char padded[kSectionNameBytes] = {};
    std::memcpy(padded, names[i].data(), names[i].size());
    w.Bytes(std::string_view(padded, kSectionNameBytes));
    w.Pod<uint64_t>(offset);
    w.Pod<uint64_t>(sizes[i]);
    w.Pod<uint32_t>(crcs[i]);
    w.Pod<uint32_t>(0);
    offset += (sizes[i] + 7) / 8 * 8;
  }
  w.Pod<uint32_t>(Crc32(w.str().data(), w.size()));
  w.Pod<uint32_t>(0);
  return std::move(w.str());
}

constexpr char kPadding[8] = {};

}  // namespace

std::string SectionFile::Serialize() const {
  std::vector<std::string> names;
  std::vector<uint64_t> sizes;
  std::vector<uint32_t> crcs;
  for (const auto& [name, bytes] : sections_) {
    names.push_back(name);
    sizes.push_back(bytes.size());
    crcs.push_back(Crc32(bytes.data(), bytes.size()));
  }
  std::string out = Header(names, sizes, crcs);
  for (const auto& [name, bytes] : sections_) {
    out.append(bytes);
    out.append(kPadding, (8 - bytes.size() % 8) % 8);
  }
  return out;
}

void SectionFile::Write(const std::string& path) const { WriteFileAtomic(path, Serialize()); }

void SectionWriter::Add(std::string name, std::string bytes) {
  PieceWriter pieces;
  pieces.Take(std::move(bytes));
  Add(std::move(name), std::move(pieces));
}

void SectionWriter::Add(std::string name, PieceWriter pieces) {
  MTREC_CHECK(name.size() < kSectionNameBytes, "section name '{}' is too long", name);
  sections_.emplace_back(std::move(name), std::move(pieces));
}

void SectionWriter::Write(const std::string& path) const {
  std::vector<std::string> names;
  std::vector<uint64_t> sizes;
  std::vector<uint32_t> crcs;
  std::vector<std::string_view> pieces;
  for (const auto& [name, section] : sections_) {
    uint32_t crc = 0;
    for (std::string_view piece : section.Pieces()) crc = Crc32(piece.data(), piece.size(), crc);
    names.push_back(name);
    sizes.push_back(section.size());
    crcs.push_back(crc);
  }
  const std::string header = Header(names, sizes, crcs);
  pieces.push_back(header);
  for (const auto& [name, section] : sections_) {
    for (std::string_view piece : section.Pieces()) pieces.push_back(piece);
    pieces.emplace_back(kPadding, (8 - section.size() % 8) % 8);
  }
  WriteFileAtomic(path, pieces);
}

SectionFile SectionFile::Parse(std::string owned, const std::string& path) {
  SectionFile file;
  file.path_ = path;
  file.bytes_ = std::make_shared<const std::string>(std::move(owned));
  const std::string& bytes = *file.bytes_;
  MTREC_CHECK(bytes.size() >= kHeaderBytes && std::memcmp(bytes.data(), kModelMagic, sizeof(kModelMagic)) == 0,
              "'{}' is not an mtrec model file (it does not start with the mtrec magic)", path);
  BinaryReader r(bytes.data(), bytes.size(), path);
  r.Bytes(sizeof(kModelMagic));
  file.version_ = r.Pod<uint32_t>();
  MTREC_CHECK(file.version_ >= 1, "'{}' is damaged: model format version 0 does not exist", path);
  MTREC_CHECK(file.version_ <= kModelFormatVersion,
              "'{}' has model format version {}, this mtrec reads versions 1 to {}: it was written by a newer mtrec",
              path, file.version_, kModelFormatVersion);
  uint32_t count = r.Pod<uint32_t>();
  MTREC_CHECK(count <= (bytes.size() - kHeaderBytes) / kEntryBytes, "'{}' is truncated or damaged (section table)",
              path);
  struct Entry {
    std::string name;
    uint64_t offset, size;
    uint32_t crc;
  };
  std::vector<Entry> entries;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view name = r.Bytes(kSectionNameBytes);
    Entry entry;
    entry.name = std::string(name.data(), strnlen(name.data(), kSectionNameBytes));
    entry.offset = r.Pod<uint64_t>();
    entry.size = r.Pod<uint64_t>();
    entry.crc = r.Pod<uint32_t>();
    r.Pod<uint32_t>();
    entries.push_back(entry);
  }
  const size_t table_end = r.offset();
  uint32_t header_crc = r.Pod<uint32_t>();
  MTREC_CHECK(Crc32(bytes.data(), table_end) == header_crc, "'{}' is damaged: its header checksum does not match",
              path);
  for (const auto& entry : entries) {
    // The format puts every section at a multiple of 8 bytes, so the arrays in it are 8-byte aligned where the
    // bytes lie (a served model reads its tables there).
    MTREC_CHECK(entry.offset % 8 == 0, "'{}' is damaged: section '{}' starts at byte {}, not at a multiple of 8", path,
                entry.name, entry.offset);
    MTREC_CHECK(entry.offset <= bytes.size() && entry.size <= bytes.size() - entry.offset,
                "'{}' is truncated: section '{}' needs bytes {}..{}, the file has {}", path, entry.name, entry.offset,
                entry.offset + entry.size, bytes.size());
    MTREC_CHECK(Crc32(bytes.data() + entry.offset, entry.size) == entry.crc,
                "'{}' is damaged: section '{}' fails its checksum", path, entry.name);
    file.sections_.emplace_back(entry.name, std::string_view(bytes).substr(entry.offset, entry.size));
  }
  return file;
}

SectionFile SectionFile::Read(const std::string& path) { return Parse(ReadFileBytes(path), path); }

}  // namespace mtrec
