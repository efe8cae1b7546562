// Whole-file reads and atomic writes: a file is either the old version or the complete new one, never half.
//
//   std::string bytes = ReadFileBytes("model.mtrec");   // regular files only: a FIFO or /proc file is refused
//   CheckWritable("out/model.mtrec", "--out");          // before hours of training, not after
//   WriteFileAtomic("model.mtrec", bytes);   // temp file in the same folder, fsync, rename, fsync folder
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace mtrec {

// Reads a regular file as bytes; throws Error naming the path when it cannot. Anything else (a folder, a FIFO, a
// device, a socket) is refused without blocking, and so is a file whose content disagrees with its size (the
// /proc files report 0 bytes; a file being rewritten in place changes under the read).
std::string ReadFileBytes(const std::string& path);

// "a folder", "a FIFO (named pipe)", "a character device", ...: what a non-regular file is, for messages.
std::string_view FileKindName(mode_t mode);

// Also removes what an interrupted earlier write of the same path left behind (see RemoveStaleTempFiles).
void WriteFileAtomic(const std::string& path, std::string_view bytes);
// The same, the file's bytes being the pieces one after the other (never joined in memory).
void WriteFileAtomic(const std::string& path, const std::vector<std::string_view>& pieces);

// Removes the temporary files of WriteFileAtomic for `path` ('.<name>.tmp-<pid>-XXXXXX' beside it) whose writing
// process is gone: a process killed while saving leaves one behind. Ones of a live process are kept, and so are
// pid-less ones (older mtrec versions) younger than an hour. Returns how many were removed.
int RemoveStaleTempFiles(const std::string& path);

// Throws Error, naming `role` (e.g. "--out") and the path, when a file cannot be created at `path`: its folder is
// missing, is not a folder, or refuses a new file. Tries to create one (then removes it), so that it also holds
// for root, for whom permission bits do not stop writes, and on read-only mounts.
void CheckWritable(const std::string& path, std::string_view role);

bool FileExists(const std::string& path);

// `path` resolved against the folder of `relative_to` unless it is absolute.
std::string ResolvePath(const std::string& path, const std::string& relative_to);

}  // namespace mtrec
