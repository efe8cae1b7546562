// Reads a whole input file into memory, decompressing it when its first bytes say it is compressed, so that
// "train.csv", "train.csv.gz", "train.csv.xz" and "train.csv.zst" all reach the CSV parser as the same text.
//
//   std::string text = ReadInput(config.data.train);        // gzip, xz, zstd or plain, by magic bytes
//   size_t header_end = 0;
//   auto names = ReadHeader(text, dialect, &header_end);
//
// The format is taken from the content, not the name: a renamed or misnamed file still reads, and a plain file
// that happens to end in ".gz" is not fed to zlib. Concatenated members (gzip), streams (xz) and frames (zstd),
// as written by `cat a.gz b.gz` or parallel compressors, are read to the end. A file that is cut short or
// damaged throws Error naming the path; partial text is never returned.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace mtrec {

// The file's bytes, decompressed when it starts with a gzip, xz or zstd signature. Throws Error naming `path`
// when the file cannot be read ("cannot open 'x': No such file or directory") or its compressed data is
// damaged or truncated ("'x.gz' is damaged: gzip data ends early").
std::string ReadInput(const std::string& path);

// The same text as a view. A plain regular file is mapped, not copied, so that only the pages read come into
// memory: a rank of a distributed run reads its own range of a large file that way. A compressed file (which has no
// random access) or a stream is read whole by ReadInput.
class InputText {
 public:
  explicit InputText(const std::string& path);
  InputText(const InputText&) = delete;  // the view points into this object
  InputText& operator=(const InputText&) = delete;
  std::string_view view() const { return view_; }
  bool mapped() const { return mapping_ != nullptr; }

 private:
  std::shared_ptr<const void> mapping_;
  std::string owned_;
  std::string_view view_;
};

}  // namespace mtrec
