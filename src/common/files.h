// Whole-file reads and atomic writes: a file is either the old version or the complete new one, never half.
//
//   WriteFileAtomic("model.mtrec", bytes);   // temp file in the same folder, fsync, rename, fsync folder
#pragma once

#include <string>
#include <string_view>

namespace mtrec {

// Reads the file as bytes; throws Error naming the path when it cannot.
std::string ReadFileBytes(const std::string& path);

void WriteFileAtomic(const std::string& path, std::string_view bytes);

bool FileExists(const std::string& path);

// `path` resolved against the folder of `relative_to` unless it is absolute.
std::string ResolvePath(const std::string& path, const std::string& relative_to);

}  // namespace mtrec
