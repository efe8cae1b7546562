// A `mtrec serve` process for the end-to-end tests: started with its arguments (shell redirections allowed), its
// port read from the first line it prints, killed when the test is done with it.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace mtrec::e2e {

// A server process (`mtrec serve ARGS`), its port read from the first line it prints.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      const std::string command = std::string(MTREC_BINARY) + " serve " + args;
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[512] = {0};
    if (fgets(line, sizeof line, stream)) first_line_ = line;
    fclose(stream);
    const size_t model = first_line_.find(" (model");
    if (first_line_.rfind("mtrec serve: listening on http://", 0) == 0 && model != std::string::npos) {
      port_ = std::atoi(first_line_.c_str() + first_line_.rfind(':', model) + 1);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  // Sends SIGTERM and waits; the exit code, or -1 when it did not exit normally within the time.
  int Terminate(std::chrono::seconds limit) {
    kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool reaped_ = false;
  std::string first_line_;
};

}  // namespace mtrec::e2e
