// Detection latency, end to end: from `mount -o remount,ro` of a slot's
// filesystem to the coordinator's journal event about it, with the real
// slotmgrd and the real replicatord on loopback. Repeats N trials (the
// filesystem is remounted read-write and the event's clearing awaited
// between trials) and prints p50, p99 and max.
//
//   bazel build //tests/e2e:detection_bench
//   (cd bazel-bin/tests/e2e/detection_bench.runfiles/slotkeeper &&
//    ../../detection_bench 50)
//
// Needs root (loop mounts). A benchmark, not a test: it asserts nothing
// about time; BENCHMARKS.md records what it printed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

// Follows the journal on its own thread and remembers when (local
// monotonic-ish wall time of receipt) each filesystem.state event arrived.
class EventFollower {
 public:
  explicit EventFollower(Cluster& c) : cluster_(c) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Waits for an event whose text contains `needle` arriving after `after`.
  absl::StatusOr<absl::Time> WaitFor(const std::string& needle, absl::Time after,
                                     absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    absl::Time found = absl::InfinitePast();
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& [t, text] : seen_) {
        if (t >= after && absl::StrContains(text, needle)) {
          found = t;
          return true;
        }
      }
      return false;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat("no event with \"", needle, "\""));
    }
    return found;
  }

 private:
  void Run() {
    v1::WatchEventsRequest req;
    req.set_since_ms(absl::ToUnixMillis(absl::Now()));
    auto reader = cluster_.api().WatchEvents(&ctx_, req);
    v1::Event e;
    while (reader->Read(&e)) {
      if (e.kind() != "filesystem.state") continue;
      absl::MutexLock lock(&mu_);
      seen_.emplace_back(absl::Now(), e.text());
    }
  }

  Cluster& cluster_;
  grpc::ClientContext ctx_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::pair<absl::Time, std::string>> seen_ ABSL_GUARDED_BY(mu_);
};

int Run(int trials) {
  if (absl::Status can = CanLoopMount(); !can.ok()) {
    std::fprintf(stderr, "detection_bench needs loop mounts: %s\n", can.ToString().c_str());
    return 2;
  }
  char tmpl[] = "/tmp/slotkeeper-detect.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::vector<double> ms;
  {
    ClusterOptions options;
    options.root = tmpl;
    options.hosts = {"imap1"};
    options.units_per_host = 1;
    options.slots_per_unit = 1;
    options.unit_bytes = 64ull << 20;
    options.coordinator_flags = {"--heartbeat=1s"};
    auto created = Cluster::Create(options);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return 1;
    }
    Cluster& c = **created;
    if (!c.StartCoordinator().ok() || !c.StartAllAgents().ok()) return 1;
    LoopFilesystem* fs = c.UnitFilesystem("imap1", "du1");
    EventFollower follower(c);
    follower.Start();
    absl::SleepFor(absl::Seconds(1));
    for (int i = 0; i < trials; ++i) {
      // remount,ro fails with EBUSY while the agent's write probe has its
      // file open: retry, and count from the attempt that succeeded.
      absl::Time start;
      absl::Status st;
      for (int attempt = 0; attempt < 50; ++attempt) {
        start = absl::Now();
        st = fs->RemountReadOnly();
        if (st.ok()) break;
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (!st.ok()) {
        std::fprintf(stderr, "remount ro: %s\n", st.ToString().c_str());
        break;
      }
      auto seen = follower.WaitFor("-> read-only", start, absl::Seconds(10));
      if (!seen.ok()) {
        std::fprintf(stderr, "trial %d: %s\n", i, seen.status().ToString().c_str());
        break;
      }
      ms.push_back(absl::ToDoubleMilliseconds(*seen - start));
      const absl::Time back = absl::Now();
      if (!fs->RemountReadWrite().ok() ||
          !follower.WaitFor("-> ok", back, absl::Seconds(10)).ok()) {
        std::fprintf(stderr, "trial %d: the read-only state did not clear\n", i);
        break;
      }
    }
    follower.Stop();
  }
  std::filesystem::remove_all(tmpl);
  if (ms.empty()) return 1;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto rank = [&](double p) {  // nearest rank
    size_t k = static_cast<size_t>(std::max(1.0, std::ceil(p * sorted.size())));
    return sorted[std::min(k, sorted.size()) - 1];
  };
  std::printf("trials %zu: p50 %.1f ms, p99 %.1f ms, max %.1f ms, min %.1f ms\n", sorted.size(),
              rank(0.50), rank(0.99), sorted.back(), sorted.front());
  return static_cast<int>(sorted.size()) == trials ? 0 : 1;
}

}  // namespace
}  // namespace slotkeeper::testing

int main(int argc, char** argv) {
  int trials = argc > 1 ? std::atoi(argv[1]) : 50;
  if (trials <= 0) {
    std::fprintf(stderr, "usage: detection_bench [TRIALS]\n");
    return 2;
  }
  return slotkeeper::testing::Run(trials);
}
