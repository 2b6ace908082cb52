#include "replicator/kernel_log_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

namespace slotkeeper::replicator {
namespace {

// The device token that follows `prefix` in `message`, up to a delimiter.
std::optional<std::string> DeviceAfter(absl::string_view message, absl::string_view prefix) {
  const size_t at = message.find(prefix);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = message.substr(at + prefix.size());
  const size_t end = rest.find_first_of("):, .\t\n");
  absl::string_view dev = rest.substr(0, end);
  if (dev.empty()) return std::nullopt;
  return std::string(dev);
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && absl::c_all_of(s, [](char c) { return absl::ascii_isdigit(c); });
}

}  // namespace

std::optional<KmsgRecord> ParseKmsgRecord(absl::string_view raw) {
  const size_t semi = raw.find(';');
  if (semi == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> head = absl::StrSplit(raw.substr(0, semi), ',');
  KmsgRecord r;
  if (head.size() < 3 || !absl::SimpleAtoi(head[0], &r.priority) ||
      !absl::SimpleAtoi(head[1], &r.sequence) || !absl::SimpleAtoi(head[2], &r.usec)) {
    return std::nullopt;
  }
  absl::string_view msg = raw.substr(semi + 1);
  msg = msg.substr(0, msg.find('\n'));  // continuation lines are metadata
  r.message = std::string(msg);
  return r;
}

std::optional<KernelFinding> MatchKernelError(absl::string_view m) {
  auto found = [](std::optional<std::string> dev,
                  absl::string_view summary) -> std::optional<KernelFinding> {
    if (!dev) return std::nullopt;
    return KernelFinding{*dev, std::string(summary)};
  };
  if (absl::StrContains(m, "Remounting filesystem read-only")) {
    // "EXT4-fs (loop3): Remounting filesystem read-only"
    if (auto d = DeviceAfter(m, "(device ")) return found(d, "remounted read-only");
    return found(DeviceAfter(m, "("), "remounted read-only");
  }
  if (absl::StartsWith(m, "EXT4-fs error")) {
    // "EXT4-fs error (device loop3): ext4_find_entry:1455: inode #2: ..."
    return found(DeviceAfter(m, "(device "), "ext4 error");
  }
  if (absl::StrContains(m, "Buffer I/O error")) {
    // "Buffer I/O error on dev loop3, logical block 0, lost async page write"
    return found(DeviceAfter(m, " on dev "), "buffer I/O error");
  }
  if (absl::StartsWith(m, "XFS (") && absl::StrContains(m, "Shutting down filesystem")) {
    return found(DeviceAfter(m, "XFS ("), "xfs shut down");
  }
  if (absl::StartsWith(m, "EXT4-fs (") && absl::StrContains(m, "shut down requested")) {
    return found(DeviceAfter(m, "EXT4-fs ("), "ext4 shut down");
  }
  if (absl::StartsWith(m, "Aborting journal on device ")) {
    return found(DeviceAfter(m, "Aborting journal on device "), "journal aborted");
  }
  return std::nullopt;
}

std::string UnitForDevice(absl::string_view device, const std::vector<UnitConfig>& units) {
  // A jbd2 journal is named DEVICE-INODE ("loop3-8").
  const size_t dash = device.rfind('-');
  if (dash != absl::string_view::npos && AllDigits(device.substr(dash + 1))) {
    device = device.substr(0, dash);
  }
  for (const UnitConfig& u : units) {
    for (const std::string& d : u.devices()) {
      if (device == d) return u.name();
      if (!absl::StartsWith(device, d)) continue;
      absl::string_view rest = device.substr(d.size());
      // sdb1 (d ends in a letter) or loop3p1 / nvme0n1p2 (d ends in a digit).
      if (!d.empty() && absl::ascii_isdigit(d.back())) {
        if (absl::ConsumePrefix(&rest, "p") && AllDigits(rest)) return u.name();
      } else if (AllDigits(rest)) {
        return u.name();
      }
    }
  }
  return "";
}

KernelLogProbe::KernelLogProbe(std::vector<UnitConfig> units,
                               std::vector<FilesystemConfig> filesystems, Clock* clock,
                               absl::Duration clear_after)
    : units_(std::move(units)), clock_(clock), clear_after_(clear_after) {
  for (const FilesystemConfig& f : filesystems) fs_unit_[f.mount_point()] = f.unit();
}

bool KernelLogProbe::AddRecord(absl::string_view message) {
  std::optional<KernelFinding> f = MatchKernelError(message);
  if (!f) return false;
  const std::string unit = UnitForDevice(f->device, units_);
  if (unit.empty()) {
    LogInfo("agent", absl::StrCat("kernel log, device not configured: ", message));
    return false;
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = findings_.try_emplace(unit);
  if (inserted) it->second.since_ms = clock_->NowMs();
  it->second.reason = absl::StrCat(f->summary, " on ", f->device, ": ", message);
  it->second.last_seen = clock_->Monotonic();
  return true;
}

void KernelLogProbe::ObserveOtherEvidence(const std::vector<Condition>& others) {
  const absl::Duration now = clock_->Monotonic();
  absl::MutexLock lock(&mu_);
  for (const Condition& c : others) {
    if (!c.hard()) continue;
    std::string unit;
    if (c.subject_kind() == v1::SUBJECT_UNIT) unit = c.subject();
    if (c.subject_kind() == v1::SUBJECT_FILESYSTEM) {
      auto it = fs_unit_.find(c.subject());
      if (it != fs_unit_.end()) unit = it->second;
    }
    if (!unit.empty()) last_dirty_[unit] = now;
  }
}

std::vector<Condition> KernelLogProbe::Check(absl::Time) {
  const absl::Duration now = clock_->Monotonic();
  std::vector<Condition> out;
  absl::MutexLock lock(&mu_);
  for (auto it = findings_.begin(); it != findings_.end();) {
    absl::Duration last = it->second.last_seen;
    auto dirty = last_dirty_.find(it->first);
    if (dirty != last_dirty_.end()) last = std::max(last, dirty->second);
    if (now - last >= clear_after_) {
      LogInfo("agent", absl::StrCat("kernel-log condition on unit ", it->first,
                                    " cleared: clean for ", absl::FormatDuration(now - last)));
      it = findings_.erase(it);
      continue;
    }
    Condition c = MakeCondition(v1::KERNEL_ERROR, v1::SUBJECT_UNIT, it->first, it->second.reason);
    c.set_since_ms(it->second.since_ms);
    out.push_back(std::move(c));
    ++it;
  }
  return out;
}

KmsgReader::KmsgReader(std::string path, std::function<void(absl::string_view)> on_message)
    : path_(std::move(path)), on_message_(std::move(on_message)) {}

KmsgReader::~KmsgReader() { Stop(); }

absl::Status KmsgReader::Start() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path_, ": ", std::strerror(errno)));
  }
  // Only what happens from now on is evidence.
  if (::lseek(fd, 0, SEEK_END) < 0) {
    LogWarning("agent", absl::StrCat("kernel log: cannot seek to the end of ", path_, ": ",
                                     std::strerror(errno)));
  }
  return thread_.Start("kernel log", fd, POLLIN, [this](int fd, short) { return Drain(fd); });
}

void KmsgReader::Stop() { thread_.Stop(); }

bool KmsgReader::Drain(int fd) {
  while (true) {
    const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
    if (n > 0) {
      if (std::optional<KmsgRecord> r = ParseKmsgRecord(absl::string_view(buffer_.data(), n))) {
        on_message_(r->message);
      }
      continue;
    }
    if (n < 0 && errno == EPIPE) continue;  // records overwritten: skip on
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      // A regular file at its end (tests): poll would spin, so wait a bit.
      return !thread_.WaitForStop(absl::Milliseconds(100));
    }
    if (errno != EAGAIN) {
      LogError("agent", absl::StrCat("kernel log: read ", path_, ": ", std::strerror(errno)));
      return false;
    }
    return true;
  }
}

}  // namespace slotkeeper::replicator
