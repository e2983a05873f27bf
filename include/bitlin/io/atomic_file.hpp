// Every file bitlin writes (safetensors checkpoints and logits, a converted model's config.json)
// appears whole or not at all. The bytes go to a temporary file next to the destination (same
// directory, so the same file system), which is flushed to disk and then renamed over the
// destination: rename(2) replaces a name atomically, so a reader, a crash, a kill or a full disk
// mid-way leaves the previous file (or none) in place, never a truncated one. A failed or
// abandoned write removes its temporary file; only a process killed outright leaves one behind,
// named ".<name>.tmp.<random>" so it is hidden and recognisable.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "bitlin/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define BITLIN_IO_ATOMIC_POSIX 1
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#include <fstream>
#include <random>
#endif

namespace bitlin::io {

namespace detail {
// Fault injection for tests: when set, called before each chunk an atomic_file writes with the
// destination path and the bytes written so far; a non-zero result fails that write with this
// errno value. Never set outside tests.
using atomic_write_hook = int (*)(const std::string& path, std::uint64_t written);
inline atomic_write_hook& atomic_write_fault() {
  static atomic_write_hook hook = nullptr;
  return hook;
}
}  // namespace detail

class atomic_file {
 public:
  // Creates the temporary file; the destination is untouched until commit().
  explicit atomic_file(std::string path) : path_(std::move(path)) {
    const std::size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? std::string() : path_.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    BITLIN_REQUIRE(!name.empty(), value_error, "cannot write ", path_, ": not a file name");
#ifdef BITLIN_IO_ATOMIC_POSIX
    tmp_ = dir + "." + name + ".tmp.XXXXXX";
    fd_ = ::mkstemp(tmp_.data());
    if (fd_ < 0) open_ = false;
    if (fd_ < 0) fail("cannot create a temporary file", errno);
    // mkstemp creates 0600; a checkpoint is as readable as any file made with the usual umask 022
    // (reading the umask means setting it, which races with other threads).
    (void)::fchmod(fd_, 0644);
#else
    tmp_ = dir + "." + name + ".tmp." + std::to_string(std::random_device{}());
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) fail("cannot create a temporary file", errno);
#endif
  }

  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;

  // Not committed: the temporary file is removed and the destination keeps its previous state.
  ~atomic_file() {
    discard();
  }

  const std::string& path() const {
    return path_;
  }
  const std::string& temp_path() const {
    return tmp_;
  }
  std::uint64_t size() const {
    return written_;
  }

  void write(const void* data, std::size_t n) {
    BITLIN_REQUIRE(open_, error, "cannot write ", path_, ": the file is already closed");
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const std::size_t chunk = n < (std::size_t{1} << 24) ? n : (std::size_t{1} << 24);
      if (const auto hook = detail::atomic_write_fault())
        if (const int err = hook(path_, written_)) fail("writing failed", err);
#ifdef BITLIN_IO_ATOMIC_POSIX
      const ::ssize_t r = ::write(fd_, p, chunk);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail("writing failed", errno);
      if (r == 0) fail("writing failed", ENOSPC);
      const auto done = static_cast<std::size_t>(r);
#else
      out_.write(p, static_cast<std::streamsize>(chunk));
      if (!out_) fail("writing failed", errno);
      const std::size_t done = chunk;
#endif
      p += done;
      n -= done;
      written_ += done;
    }
  }
  void write(std::string_view s) {
    write(s.data(), s.size());
  }

  // Flushes the data to disk, then renames the temporary file over the destination.
  void commit() {
    BITLIN_REQUIRE(open_, error, "cannot write ", path_, ": the file is already closed");
#ifdef BITLIN_IO_ATOMIC_POSIX
    if (::fsync(fd_) != 0 && errno != EINVAL) fail("flushing to disk failed", errno);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("closing failed", errno);
#else
    out_.close();
    if (!out_) fail("closing failed", errno);
#endif
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("renaming it into place failed", errno);
    open_ = false;
#ifdef BITLIN_IO_ATOMIC_POSIX
    // The rename itself is durable once the directory is flushed; failing that loses nothing.
    const std::size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
#endif
  }

  // Gives up: removes the temporary file (also what the destructor does).
  void discard() noexcept {
    if (!open_) return;
    open_ = false;
#ifdef BITLIN_IO_ATOMIC_POSIX
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
#else
    out_.close();
#endif
    std::remove(tmp_.c_str());
  }

 private:
  [[noreturn]] void fail(const char* what, int err) {
    discard();
    throw error(::bitlin::detail::concat("cannot write ", path_, ": ", what, " (", tmp_,
                                         "): ", std::strerror(err)));
  }

  std::string path_, tmp_;
  std::uint64_t written_ = 0;
  bool open_ = true;
#ifdef BITLIN_IO_ATOMIC_POSIX
  int fd_ = -1;
#else
  std::ofstream out_;
#endif
};

// `bytes` as the new content of `path`, all or nothing.
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  atomic_file f(path);
  f.write(bytes);
  f.commit();
}

}  // namespace bitlin::io
