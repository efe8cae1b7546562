#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/error.h"

namespace mtrec {
namespace {

namespace fs = std::filesystem;

// The temporary files of WriteFileAtomic for `target` start with this; the writer's pid and mkstemp's six
// characters follow.
std::string TempPrefix(const fs::path& target) { return "." + target.filename().string() + ".tmp-"; }

fs::path FolderOf(const fs::path& target) {
  return target.parent_path().empty() ? fs::path(".") : target.parent_path();
}

bool ProcessIsAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::string_view FileKindName(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string ReadFileBytes(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it. Regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) Fail("cannot open '{}': {}", path, std::strerror(errno));
  std::unique_ptr<const int, void (*)(const int*)> closer(&fd, [](const int* f) { ::close(*f); });
  struct stat st;
  if (::fstat(fd, &st) != 0) Fail("cannot read '{}': {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) Fail("cannot read '{}': it is {}, not a regular file", path, FileKindName(st.st_mode));
  const size_t size = static_cast<size_t>(st.st_size);
  std::string bytes(size, '\0');
  size_t used = 0;
  char probe = 0;
  // Reads the announced size, then one byte more, which must find the end.
  while (true) {
    char* into = used < size ? bytes.data() + used : &probe;
    const ssize_t n = ::read(fd, into, used < size ? size - used : 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("cannot read '{}': {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > size) break;
  }
  if (used > size) {
    Fail("cannot read '{}': it holds more than the {} bytes its size says (a /proc file, or one being written)", path,
         size);
  }
  if (used < size) Fail("cannot read '{}': it ended after {} of its {} bytes (was it rewritten meanwhile?)", path, used,
                        size);
  return bytes;
}

int RemoveStaleTempFiles(const std::string& path) {
  const fs::path target(path);
  const fs::path folder = FolderOf(target);
  const std::string prefix = TempPrefix(target);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(folder.c_str()), ::closedir);
  if (!dir) return 0;
  const auto now = std::chrono::system_clock::now();
  int removed = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const std::string rest(name.substr(prefix.size()));  // "<pid>-XXXXXX", or "XXXXXX" before pids were written
    const fs::path file = folder / std::string(name);
    struct stat st;
    if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    char* end = nullptr;
    const long pid = std::strtol(rest.c_str(), &end, 10);
    const bool has_pid = end != rest.c_str() && *end == '-' && std::strlen(end) == 7;
    if (has_pid) {
      if (pid == ::getpid() || ProcessIsAlive(static_cast<pid_t>(pid))) continue;
    } else {
      const auto modified = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
      if (now - modified < std::chrono::hours(1)) continue;
    }
    if (::unlink(file.c_str()) == 0) ++removed;
  }
  return removed;
}

void WriteFileAtomic(const std::string& path, std::string_view bytes) {
  WriteFileAtomic(path, std::vector<std::string_view>{bytes});
}

void WriteFileAtomic(const std::string& path, const std::vector<std::string_view>& pieces) {
  fs::path target(path);
  fs::path folder = FolderOf(target);
  RemoveStaleTempFiles(path);
  // The pid in the name tells a later save whether the writer is still alive (RemoveStaleTempFiles).
  std::string temp = (folder / (TempPrefix(target) + std::to_string(::getpid()) + "-XXXXXX")).string();
  int fd = mkstemp(temp.data());
  if (fd < 0) Fail("cannot create a temporary file in '{}': {}", folder.string(), std::strerror(errno));
  for (std::string_view bytes : pieces) {
    size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        Fail("cannot write '{}': {}", temp, std::strerror(err));
      }
      written += static_cast<size_t>(n);
    }
  }
  fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    Fail("cannot flush '{}' to disk", temp);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    Fail("cannot rename '{}' to '{}': {}", temp, path, std::strerror(err));
  }
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void CheckWritable(const std::string& path, std::string_view role) {
  const fs::path target(path);
  const fs::path folder = FolderOf(target);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    Fail("{} '{}' is a folder; give a file name inside it", role, path);
  }
  if (::stat(folder.c_str(), &st) != 0) {
    Fail("{} '{}': its folder '{}' cannot be used: {}", role, path, folder.string(), std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    Fail("{} '{}': '{}' is {}, not a folder", role, path, folder.string(), FileKindName(st.st_mode));
  }
  std::string probe = (folder / (TempPrefix(target) + std::to_string(::getpid()) + "-XXXXXX")).string();
  const int fd = mkstemp(probe.data());
  if (fd < 0) {
    Fail("{} '{}': cannot create a file in '{}': {}", role, path, folder.string(), std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string ResolvePath(const std::string& path, const std::string& relative_to) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  fs::path base = fs::path(relative_to).parent_path();
  return base.empty() ? path : (base / path).lexically_normal().string();
}

}  // namespace mtrec
