// scrub_bench: the scrub's read throughput on one slot, against plain reads
// of the same files measured in the same run; or scrub passes at a rate for
// a while (load for a concurrent slotsync, tools/bench.sh).
//
//   scrub_bench --slot DIR [--reps 5]
//   scrub_bench --slot DIR --rate BYTES_PER_S --seconds N
//
// Per repetition, over every regular file of the slot's users (as a scrub
// pass lists them):
//   read_cached   buffered read() of each file, no hash (page cache warm)
//   read_direct   O_DIRECT read of each file, no hash (the disk)
//   scrub         ScrubSlot: O_DIRECT read and xxHash3-128 of each file,
//                 no rate limit, no hash cache, no master
// Prints every run in MB/s, then medians and the ratios scrub / read_direct
// and scrub / read_cached.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/rate_limiter.h"
#include "replicator/sync/scrub.h"
#include "replicator/sync/slot_layout.h"

ABSL_FLAG(std::string, slot, "", "Slot directory (holding users/).");
ABSL_FLAG(int, reps, 5, "Repetitions of each measurement.");
ABSL_FLAG(uint64_t, rate, 0, "With --seconds: scrub passes at this many bytes/s.");
ABSL_FLAG(int, seconds, 0, "Run scrub passes at --rate for this long, then stop.");

namespace slotkeeper::sync {
namespace {

constexpr size_t kChunk = 1 << 20;

// Every regular file below the slot's users/, as paths relative to it.
class Lister : public DirVisitor {
 public:
  explicit Lister(std::vector<std::string>* out) : out_(out) {}
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    if (IsDirectory(dir.fd, e)) return true;
    if (e.type == DT_REG) out_->push_back(rel);
    return false;
  }

 private:
  std::vector<std::string>* const out_;
};

// Reads every file whole (O_DIRECT when `direct`); the bytes read.
uint64_t ReadAll(int users, const std::vector<std::string>& files, bool direct) {
  void* raw = nullptr;
  if (posix_memalign(&raw, 4096, kChunk) != 0) return 0;
  std::unique_ptr<char, decltype(&free)> buffer(static_cast<char*>(raw), &free);
  uint64_t total = 0;
  for (const std::string& f : files) {
    int fd = openat(users, f.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (direct ? O_DIRECT : 0));
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) != 0) st.st_size = 0;
    // Whole blocks up to the end (as the scrub asks): a whole chunk of a
    // small file would make the kernel zero the rest of the buffer.
    const size_t want = std::min<size_t>(
        kChunk, (static_cast<size_t>(st.st_size) + 4095) / 4096 * 4096 + (direct ? 0 : 1));
    for (;;) {
      ssize_t n = read(fd, buffer.get(), std::max<size_t>(want, 4096));
      if (n <= 0) break;
      total += static_cast<uint64_t>(n);
      if (direct && static_cast<size_t>(n) < want) break;
    }
    close(fd);
  }
  return total;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// MB/s of `run` (which returns the bytes it read).
double Measure(const char* name, const std::function<uint64_t()>& run) {
  const absl::Time t0 = absl::Now();
  const uint64_t bytes = run();
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  const double mbps = static_cast<double>(bytes) / 1e6 / secs;
  std::printf("%s %.1f MB/s (%.1f MB in %.3f s)\n", name, mbps, bytes / 1e6, secs);
  return mbps;
}

// Set by SIGTERM / SIGINT: the passes at a rate end and report.
std::atomic<bool> stop_passes{false};

// One pass; the bytes it read (also those of a pass stopped midway).
uint64_t Scrub(int root, TokenBucket* bucket, const std::atomic<bool>* stop) {
  std::atomic<uint64_t> bytes{0};
  ScrubContext ctx;
  ctx.slot_root = root;
  ctx.slot = "bench";
  ctx.bucket = bucket;
  ctx.stop = stop;
  ctx.bytes_verified = &bytes;
  (void)ScrubSlot(ctx);
  return bytes;
}

int Run() {
  absl::StatusOr<Fd> root = OpenRootDir(absl::GetFlag(FLAGS_slot));
  if (!root.ok()) {
    std::fprintf(stderr, "scrub_bench: %s\n", root.status().ToString().c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_seconds) > 0) {
    TokenBucket bucket(absl::GetFlag(FLAGS_rate), 1 << 20, RealClock());
    signal(SIGTERM, [](int) { stop_passes = true; });
    signal(SIGINT, [](int) { stop_passes = true; });
    const absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
    uint64_t bytes = 0;
    const absl::Time t0 = absl::Now();
    while (absl::Now() < end && !stop_passes) bytes += Scrub(root->get(), &bucket, &stop_passes);
    std::printf("scrub at %lu B/s: %.1f MB/s achieved\n",
                static_cast<unsigned long>(absl::GetFlag(FLAGS_rate)),
                bytes / 1e6 / absl::ToDoubleSeconds(absl::Now() - t0));
    return 0;
  }
  absl::StatusOr<Fd> users = OpenUsersDir(root->get());
  if (!users.ok()) return 1;
  std::vector<std::string> files;
  Lister lister(&files);
  if (!WalkTree(users->get(), &lister).ok()) return 1;
  std::printf("%zu files\n", files.size());
  std::vector<double> cached, direct, scrub;
  ReadAll(users->get(), files, false);  // warm the page cache once
  for (int i = 0; i < absl::GetFlag(FLAGS_reps); ++i) {
    cached.push_back(Measure("read_cached", [&] { return ReadAll(users->get(), files, false); }));
    direct.push_back(Measure("read_direct", [&] { return ReadAll(users->get(), files, true); }));
    scrub.push_back(Measure("scrub", [&] { return Scrub(root->get(), nullptr, nullptr); }));
  }
  std::printf(
      "median MB/s: read_cached %.1f, read_direct %.1f, scrub %.1f; scrub / read_direct %.2f, "
      "scrub / read_cached %.2f\n",
      Median(cached), Median(direct), Median(scrub), Median(scrub) / Median(direct),
      Median(scrub) / Median(cached));
  return 0;
}

}  // namespace
}  // namespace slotkeeper::sync

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return slotkeeper::sync::Run();
}
