#include "runguard/nsutil/process.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char** environ;

namespace runguard::nsutil {

Status exec_program(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execve(path.c_str(), args.data(), environ);
  return io_error("exec " + path, errno);
}

Result<int> run_and_wait(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return io_error("fork", errno);
  if (pid == 0) {
    ::execve(path.c_str(), args.data(), environ);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return io_error("wait for " + path, errno);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool is_host_namespace(const std::string& ns_path, const std::string& ns_file) {
  struct stat target{};
  if (::stat(ns_path.c_str(), &target) != 0) return false;
  // pid 1's namespaces are the host's. Where /proc/1 is hidden (a sandbox, hidepid), runguard's
  // own namespaces stand in: the runtime runs in the host's namespaces, as containerd's shim does.
  for (const char* owner : {"/proc/1/ns/", "/proc/self/ns/"}) {
    struct stat host{};
    if (::stat((owner + ns_file).c_str(), &host) == 0 && host.st_dev == target.st_dev && host.st_ino == target.st_ino) {
      return true;
    }
  }
  return false;
}

}  // namespace runguard::nsutil
