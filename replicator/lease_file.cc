#include "replicator/lease_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/log.h"

namespace slotkeeper::replicator {
namespace {

constexpr absl::string_view kSuffix = ".lease";

absl::Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(std::strerror(errno));
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace

std::string LeaseFilePath(const std::string& dir, const std::string& slot) {
  return absl::StrCat(dir, "/", slot, kSuffix);
}

absl::StatusOr<LeaseFileContents> ParseLeaseFile(const std::string& text) {
  LeaseFileContents out;
  bool has_store = false, has_epoch = false, has_until = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "#")) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (kv.first == "store") {
      out.store = std::string(kv.second);
      has_store = !out.store.empty();
    } else if (kv.first == "epoch") {
      has_epoch = absl::SimpleAtoi(kv.second, &out.epoch);
    } else if (kv.first == "serving_until_ns") {
      int64_t ns = 0;
      has_until = absl::SimpleAtoi(kv.second, &ns) && ns >= 0;
      out.serving_until = absl::Nanoseconds(ns);
    }
  }
  if (!has_store || !has_epoch || !has_until) {
    return absl::InvalidArgumentError(absl::StrCat("lease file lacks ", !has_store ? "store"
                                                                        : !has_epoch
                                                                            ? "epoch"
                                                                            : "serving_until_ns"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<LeaseFiles>> LeaseFiles::Open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (d == nullptr) {
    return absl::InternalError(absl::StrCat("cannot open ", dir, ": ", std::strerror(errno)));
  }
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d.get())) {
    if (absl::EndsWith(e->d_name, kSuffix) || absl::StrContains(e->d_name, ".lease.tmp")) {
      stale.push_back(absl::StrCat(dir, "/", e->d_name));
    }
  }
  for (const std::string& path : stale) {
    LogInfo("agent", absl::StrCat("removing the lease file of an earlier agent: ", path));
    ::unlink(path.c_str());
  }
  return std::unique_ptr<LeaseFiles>(new LeaseFiles(dir));
}

void LeaseFiles::LeaseChanged(const std::string& slot, const std::string& store, uint64_t epoch,
                              std::optional<absl::Duration> serving_until) {
  const std::string path = LeaseFilePath(dir_, slot);
  if (!serving_until) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      LogError("agent", absl::StrCat("cannot remove ", path, ": ", std::strerror(errno)));
    }
    return;
  }
  const std::string tmp = path + ".tmp";
  const std::string text = absl::StrCat(
      "# the slot may serve mail until CLOCK_MONOTONIC reaches serving_until_ns\n", "store ", store,
      "\nepoch ", epoch, "\nserving_until_ns ", absl::ToInt64Nanoseconds(*serving_until), "\n");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  absl::Status s = fd < 0 ? absl::InternalError(std::strerror(errno)) : WriteAll(fd, text);
  if (fd >= 0) ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = absl::InternalError(std::strerror(errno));
  }
  if (!s.ok()) {
    // The fence then acts on the previous deadline, which is earlier: it
    // stops the server too soon, never too late.
    LogError("agent", absl::StrCat("cannot write ", path, ": ", s.message()));
  }
}

}  // namespace slotkeeper::replicator
