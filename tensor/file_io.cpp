// file_io.cpp — whole-file reads and atomic writes (POSIX).
//
// read_file: open, fstat, read until the end; refuses directories and devices (a device
// such as /dev/zero would never end).
// write_file_atomic: write `path.tmp.<pid>`, fsync it, rename it over `path`, fsync the
// directory. On any failure the temporary file is removed and the old `path` is untouched;
// temporary files of `path` that killed writers left are removed after a write.
// remove_file: `path` and those leftovers.
// Every error is one line "[read] <file>: <strerror>" or "[write] <file>: <strerror>".
#include "tensor/file_io.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/error.h"

namespace kz {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit unless released.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int close_now() {  // returns 0 or errno
    int rc = ::close(fd);
    fd = -1;
    return rc == 0 ? 0 : errno;
  }
};

// The directory holding `path` ("." for a bare file name).
std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all of `bytes` to `fd`, retrying short writes and EINTR; returns 0 or errno.
int write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// Removes the `path.tmp.<pid>` files of writers that are gone: a process killed inside
// write_file_atomic leaves its temporary file behind (a checkpoint's size, each time).
// A temporary file of a live process is another writer's, mid-write, and stays.
void remove_stale_temps(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent_dir(path), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const auto owner = static_cast<pid_t>(std::stol(pid));
    if (owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH)
      fs::remove(entry.path(), ec);
  }
}

}  // namespace

std::string read_file(const std::string& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) fail("read", path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail("read", path + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail("read", path + ": " + errno_text(EISDIR));
  // Devices such as /dev/zero never end: read regular files and pipes only.
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    fail("read", path + ": not a regular file or pipe");

  std::string bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read", path + ": " + errno_text(errno));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  return bytes;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail_and_clean = [&](int err) {
    ::unlink(tmp.c_str());
    fail("write", path + ": " + errno_text(err));
  };

  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (f.fd < 0) fail("write", path + ": " + errno_text(errno));
  if (int err = write_all(f.fd, bytes)) fail_and_clean(err);
  if (::fsync(f.fd) != 0) fail_and_clean(errno);
  if (int err = f.close_now()) fail_and_clean(err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_and_clean(errno);

  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL):
  // the data is already safe then, so only real I/O errors are reported.
  Fd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd >= 0 && ::fsync(dir.fd) != 0 && errno == EIO)
    fail("write", path + ": " + errno_text(EIO));
  remove_stale_temps(path);
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  remove_stale_temps(path);
}

std::string printable(std::string_view s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > max_len) out += "...";
  return out;
}

}  // namespace kz
