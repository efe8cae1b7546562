// Test folders that go when the test program exits, so that they do not pile up in the temp dir run after run.
// Header-only and without mtrec's libraries: the end-to-end and slow tests, which only run the binary, use it too.
//
//   std::filesystem::create_directories(dir);
//   RemoveAtExit(dir);
#pragma once

#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>

namespace mtrec {

// Removes `dir` with everything in it when the test program exits: a test's folders no longer pile up in the
// temp dir, run after run (one that cleans up after itself loses nothing by it).
inline void RemoveAtExit(const std::filesystem::path& dir) {
  struct Folders {
    std::mutex mutex;
    std::set<std::filesystem::path> dirs;
    ~Folders() {
      for (const auto& dir : dirs) {
        std::error_code ignored;  // at exit there is nobody to tell; a folder that cannot go stays
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                                     ignored);
        std::filesystem::remove_all(dir, ignored);
      }
    }
  };
  static Folders folders;
  std::lock_guard<std::mutex> lock(folders.mutex);
  folders.dirs.insert(dir);
}

}  // namespace mtrec
