#include "runguard/nsutil/process.h"

#include <sys/stat.h>
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

bool is_host_namespace(const std::string& ns_path, const std::string& ns_file) {
  struct stat a{}, b{};
  if (::stat(ns_path.c_str(), &a) != 0) return false;
  if (::stat(("/proc/1/ns/" + ns_file).c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace runguard::nsutil
