#include "tools/mailgen/deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/mailgen/delivery_plan.h"
#include "tools/mailgen/message_model.h"

namespace slotkeeper::mailgen {
namespace {

// Received times in the messages' headers: fixed, so that a seed gives the
// same content whenever it runs.
constexpr int64_t kHeaderTimeBase = 1795000000;
constexpr uint64_t kSerialBase = 20'000'000;

int64_t ClockNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SleepUntilMonotonicNs(int64_t when) {
  struct timespec ts = {static_cast<time_t>(when / 1000000000),
                        static_cast<long>(when % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool HasWhitespace(absl::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); });
}

// The Maildir users of a slot (directories of users/ with cur/, new/ and
// tmp/), sorted. Names with whitespace cannot be logged and are left out.
std::vector<std::string> MaildirUsers(const std::string& slot) {
  std::vector<std::string> users;
  const std::string dir = slot + "/users";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return users;
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || HasWhitespace(name)) continue;
    const std::string home = absl::StrCat(dir, "/", name);
    if (IsDir(home + "/cur") && IsDir(home + "/new") && IsDir(home + "/tmp")) {
      users.push_back(name);
    }
  }
  closedir(d);
  std::sort(users.begin(), users.end());
  return users;
}

absl::Status WriteDurable(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create " + path);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status st = ErrnoError("write " + path);
      close(fd);
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status st = ErrnoError("fsync " + path);
    close(fd);
    return st;
  }
  if (close(fd) != 0) return ErrnoError("close " + path);
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + dir);
  const bool ok = fsync(fd) == 0;
  absl::Status st = ok ? absl::OkStatus() : ErrnoError("fsync " + dir);
  close(fd);
  return st;
}

struct SlotUsers {
  std::string slot;
  std::vector<std::string> users;
  UserPicker picker;
};

// One run: the timeline, the writes, the log and the counts.
class Deliverer {
 public:
  Deliverer(const DeliverOptions& options, std::vector<SlotUsers> slots, FILE* log)
      : options_(options),
        slots_(std::move(slots)),
        log_(log),
        rng_(options.seed),
        flag_rng_(options.seed * 31 + 7),
        pools_(&rng_) {}

  absl::Status Run();
  void PrintSummary() const;

 private:
  absl::Status DeliverOne(uint64_t index);
  absl::Status FlagOne();

  const DeliverOptions& options_;
  std::vector<SlotUsers> slots_;
  FILE* log_;
  Rng rng_;       // deliveries: user, size, content
  Rng flag_rng_;  // which message a flag change takes
  Pools pools_;
  // Messages of this run still in new/: slot directory, users/<u>/new/<name>.
  std::vector<std::pair<std::string, std::string>> in_new_;
  uint64_t delivered_ = 0;
  uint64_t bytes_ = 0;
  uint64_t flagged_ = 0;
  uint64_t flag_skipped_ = 0;
  int64_t elapsed_ns_ = 0;
  std::vector<double> lateness_ms_;
};

absl::Status Deliverer::Run() {
  DeliveryTimeline timeline(options_.rate, options_.flag_rate, options_.duration);
  lateness_ms_.reserve(timeline.deliveries());
  const int64_t start = ClockNs(CLOCK_MONOTONIC);
  DeliveryEvent event;
  while (timeline.Next(&event)) {
    const int64_t due = start + absl::ToInt64Nanoseconds(event.due);
    SleepUntilMonotonicNs(due);
    lateness_ms_.push_back(static_cast<double>(ClockNs(CLOCK_MONOTONIC) - due) / 1e6);
    absl::Status st =
        event.kind == DeliveryEvent::Kind::kDeliver ? DeliverOne(event.index) : FlagOne();
    elapsed_ns_ = ClockNs(CLOCK_MONOTONIC) - start;
    if (!st.ok()) return st;
  }
  // The run lasts its duration (the rate is per the whole run).
  SleepUntilMonotonicNs(start + absl::ToInt64Nanoseconds(options_.duration));
  elapsed_ns_ = ClockNs(CLOCK_MONOTONIC) - start;
  return absl::OkStatus();
}

absl::Status Deliverer::DeliverOne(uint64_t index) {
  SlotUsers& slot = slots_[index % slots_.size()];
  const std::string& user = slot.users[slot.picker.Pick(rng_.Uniform())];
  const size_t size = MessageSize(&rng_);
  const std::string msg =
      Message(&rng_, pools_, user, kHeaderTimeBase + static_cast<int64_t>(index),
              kSerialBase + index, size);
  const std::string name =
      MaildirUniqueName(ClockNs(CLOCK_REALTIME), getpid(), index, "mailgen", msg.size());
  const std::string home = absl::StrCat(slot.slot, "/users/", user);
  const std::string tmp = absl::StrCat(home, "/tmp/", name);
  const std::string in_new = absl::StrCat(home, "/new/", name);
  if (absl::Status st = WriteDurable(tmp, msg); !st.ok()) return st;
  if (rename(tmp.c_str(), in_new.c_str()) != 0) return ErrnoError("rename into " + in_new);
  const int64_t arrived = ClockNs(CLOCK_REALTIME);
  if (absl::Status st = SyncDir(home + "/new"); !st.ok()) return st;
  DeliveryRecord record{arrived, slot.slot, absl::StrCat("users/", user, "/new/", name)};
  const std::string line = FormatDeliveryLine(record);
  if (std::fputs(line.c_str(), log_) < 0 || std::fflush(log_) != 0) {
    return ErrnoError("write " + options_.log_path);
  }
  in_new_.emplace_back(slot.slot, std::move(record.path));
  ++delivered_;
  bytes_ += msg.size();
  return absl::OkStatus();
}

absl::Status Deliverer::FlagOne() {
  if (in_new_.empty()) {
    ++flag_skipped_;
    return absl::OkStatus();
  }
  const size_t pick = flag_rng_.Below(in_new_.size());
  std::swap(in_new_[pick], in_new_.back());
  const auto [slot, path] = std::move(in_new_.back());
  in_new_.pop_back();
  std::string to = path;
  to.replace(to.rfind("/new/"), 5, "/cur/");
  to += ":2,S";
  const std::string from_full = absl::StrCat(slot, "/", path);
  const std::string to_full = absl::StrCat(slot, "/", to);
  if (rename(from_full.c_str(), to_full.c_str()) != 0) {
    // Someone else (a mail server) moved it first: not this run's business.
    if (errno == ENOENT) {
      ++flag_skipped_;
      return absl::OkStatus();
    }
    return ErrnoError("rename " + from_full + " -> " + to_full);
  }
  ++flagged_;
  return absl::OkStatus();
}

void Deliverer::PrintSummary() const {
  const double secs = static_cast<double>(elapsed_ns_) / 1e9;
  std::printf(
      "mailgen: delivered %llu messages (%.1f MB) into %zu slots in %.1f s (%.1f/s, target "
      "%.1f/s); %llu flag changes, %llu skipped (none of this run's messages in new/)\n",
      static_cast<unsigned long long>(delivered_), static_cast<double>(bytes_) / 1e6, slots_.size(),
      secs, secs > 0 ? static_cast<double>(delivered_) / secs : 0.0, options_.rate,
      static_cast<unsigned long long>(flagged_), static_cast<unsigned long long>(flag_skipped_));
  std::vector<double> sorted = lateness_ms_;
  std::sort(sorted.begin(), sorted.end());
  std::printf("mailgen: lateness against the schedule: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              NearestRank(sorted, 0.50), NearestRank(sorted, 0.99),
              sorted.empty() ? 0.0 : sorted.back());
  std::fflush(stdout);
}

}  // namespace

absl::Status ValidateDeliverOptions(const DeliverOptions& options) {
  if (!(options.rate > 0) || !std::isfinite(options.rate) || options.rate > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rate must be more than 0 and at most 100000 messages per second, got ", options.rate));
  }
  if (options.duration <= absl::ZeroDuration() || options.duration > absl::Hours(24 * 7)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration must be more than 0 and at most 168h, got ",
                     absl::FormatDuration(options.duration)));
  }
  if (!(options.flag_rate >= 0) || !std::isfinite(options.flag_rate) ||
      options.flag_rate > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flag_rate must be 0 to 100000 per second, got ", options.flag_rate));
  }
  if (options.log_path.empty()) return absl::InvalidArgumentError("--deliver needs --log FILE");
  if (options.slots.empty())
    return absl::InvalidArgumentError("--deliver needs at least one --slot");
  for (const std::string& slot : options.slots) {
    if (HasWhitespace(slot)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slot \"", slot, "\": a path with whitespace cannot go in the log"));
    }
    if (!IsDir(slot)) {
      return absl::InvalidArgumentError(absl::StrCat("--slot ", slot, ": not a directory"));
    }
    if (!IsDir(slot + "/users")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slot ", slot, ": has no users/ directory (not a slot with mail)"));
    }
    if (MaildirUsers(slot).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--slot ", slot, ": users/ holds no Maildir user (a directory with cur/, new/, tmp/)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Deliver(const DeliverOptions& options) {
  if (absl::Status st = ValidateDeliverOptions(options); !st.ok()) return st;
  std::vector<SlotUsers> slots;
  for (const std::string& slot : options.slots) {
    std::vector<std::string> users = MaildirUsers(slot);
    const size_t n = users.size();
    slots.push_back({slot, std::move(users), UserPicker(n)});
  }
  std::unique_ptr<FILE, int (*)(FILE*)> log(std::fopen(options.log_path.c_str(), "w"),
                                            &std::fclose);
  if (log == nullptr) return ErrnoError("--log " + options.log_path);
  Deliverer deliverer(options, std::move(slots), log.get());
  absl::Status st = deliverer.Run();
  deliverer.PrintSummary();
  return st;
}

}  // namespace slotkeeper::mailgen
