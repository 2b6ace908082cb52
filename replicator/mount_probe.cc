#include "replicator/mount_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

namespace slotkeeper::replicator {
namespace {

bool Has(const std::vector<std::string>& options, absl::string_view option) {
  return absl::c_find(options, option) != options.end();
}

}  // namespace

std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

std::vector<MountEntry> ParseMountInfo(absl::string_view text) {
  std::vector<MountEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // id parent major:minor root mount_point options [optional...] - type source super
    auto dash = absl::c_find(f, "-");
    if (f.size() < 10 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) continue;
    MountEntry e;
    e.mount_point = UnescapeMountField(f[4]);
    e.mount_options = absl::StrSplit(f[5], ',');
    e.fs_type = std::string(dash[1]);
    e.source = UnescapeMountField(dash[2]);
    e.super_options = absl::StrSplit(dash[3], ',');
    entries.push_back(std::move(e));
  }
  return entries;
}

MountInfoReader FileMountInfoReader(std::string path) {
  return [path]() -> absl::StatusOr<std::string> {
    std::ifstream in(path);
    if (!in) {
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
}

MountTableProbe::MountTableProbe(std::vector<std::string> mount_points, MountInfoReader reader,
                                 std::vector<std::string> directories,
                                 std::function<bool(const std::string&)> is_directory)
    : mount_points_(std::move(mount_points)),
      reader_(std::move(reader)),
      directories_(std::move(directories)),
      is_directory_(std::move(is_directory)) {
  if (!is_directory_) {
    is_directory_ = [](const std::string& path) {
      struct stat st;
      return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    };
  }
}

std::vector<Condition> MountTableProbe::Check(absl::Time) {
  std::vector<Condition> out;
  for (const std::string& dir : directories_) {
    if (!is_directory_(dir)) {
      out.push_back(MakeCondition(v1::NOT_MOUNTED, v1::SUBJECT_FILESYSTEM, dir,
                                  absl::StrCat("directory ", dir, " is missing")));
    }
  }
  if (mount_points_.empty()) return out;
  absl::StatusOr<std::string> text = reader_();
  if (!text.ok()) {
    LogWarning("agent", absl::StrCat("mount-table probe: ", text.status().message()));
    return last_;
  }
  const std::vector<MountEntry> entries = ParseMountInfo(*text);
  for (const std::string& mp : mount_points_) {
    // The last entry for a path is the one on top (later mounts cover it).
    const MountEntry* top = nullptr;
    for (const MountEntry& e : entries) {
      if (e.mount_point == mp) top = &e;
    }
    if (top == nullptr) {
      out.push_back(MakeCondition(v1::NOT_MOUNTED, v1::SUBJECT_FILESYSTEM, mp,
                                  absl::StrCat(mp, " is not in the mount table")));
      continue;
    }
    if (Has(top->mount_options, "ro") || Has(top->super_options, "ro")) {
      out.push_back(MakeCondition(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, mp,
                                  absl::StrCat(mp, " (", top->source, ") is mounted read-only: ",
                                               absl::StrJoin(top->mount_options, ","), " / ",
                                               absl::StrJoin(top->super_options, ","))));
    }
    if (Has(top->super_options, "shutdown")) {
      out.push_back(MakeCondition(v1::IO_ERROR, v1::SUBJECT_FILESYSTEM, mp,
                                  absl::StrCat(mp, " (", top->source, ") has been shut down")));
    }
  }
  last_ = out;
  return out;
}

MountWatcher::MountWatcher(std::string path, std::function<void()> on_change)
    : path_(std::move(path)), on_change_(std::move(on_change)) {}

MountWatcher::~MountWatcher() { Stop(); }

absl::Status MountWatcher::Start() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path_, ": ", std::strerror(errno)));
  }
  // The kernel flags a change of the table with POLLPRI (POLLERR on older
  // kernels) and re-arms it on poll itself; no read is needed.
  return thread_.Start("mount watcher", fd, POLLPRI, [this](int, short revents) {
    if (revents & (POLLPRI | POLLERR)) on_change_();
    return true;
  });
}

void MountWatcher::Stop() { thread_.Stop(); }

}  // namespace slotkeeper::replicator
