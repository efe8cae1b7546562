// Runs the mtrec binary as a user would, for the end-to-end tests: a command line in, exit code and output out.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dirs.h"

namespace mtrec::e2e {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, stderr into the output.
inline RunResult RunShell(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline RunResult RunMtrec(const std::string& args) { return RunShell(std::string(MTREC_BINARY) + " " + args); }

// The same, killed after `seconds` (exit code 137 then): for runs that must not hang, such as on a FIFO.
inline RunResult RunMtrecWithin(int seconds, const std::string& args) {
  return RunShell("timeout -s KILL " + std::to_string(seconds) + " " + std::string(MTREC_BINARY) + " " + args);
}

inline void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A fresh folder under the test temp dir, private to this process (ctest runs tests of one suite in parallel),
// removed when the process exits.
inline std::filesystem::path FreshDir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / ("mtrec_e2e_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RemoveAtExit(dir);
  return dir;
}

}  // namespace mtrec::e2e
