// `slotctl events --follow` across a coordinator restart: the slotctl
// binary follows a real slotmgrd (plaintext on loopback, no agents needed)
// that is killed and started again on the same data directory and address.
// The follow must say on stderr that it lost the stream and is
// reconnecting, and print every event exactly once: consecutive sequence
// numbers from the first to the last, nothing missing, nothing repeated.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "proto/model.pb.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

// The events the follower printed (its JSON lines), in order.
std::vector<slotkeeper::v1::Event> PrintedEvents(const std::string& log) {
  std::vector<slotkeeper::v1::Event> out;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "{")) continue;
    slotkeeper::v1::Event e;
    if (google::protobuf::util::JsonStringToMessage(std::string(line), &e).ok()) {
      out.push_back(e);
    }
  }
  return out;
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Waits (real time, bounded) until `log` of `p` holds `needle` `times` times.
bool WaitForCount(const Process& p, const std::string& needle, int times) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (Count(p.ReadLog(), needle) >= times) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

TEST(SlotctlFollowTest, ResumesAcrossACoordinatorRestartWithoutGapsOrRepeats) {
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/follow";
  options.hosts = {};
  options.loop_mounts = false;
  options.tls = false;
  options.verbose = true;
  absl::StatusOr<std::unique_ptr<Cluster>> created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& cluster = **created;
  ASSERT_TRUE(cluster.StartCoordinator().ok());
  auto slotctl = [&](const std::vector<std::string>& args) {
    std::string out;
    absl::StatusOr<int> code = cluster.Slotctl(args, &out, absl::Seconds(30));
    EXPECT_TRUE(code.ok() && *code == 0) << absl::StrJoin(args, " ") << ": " << out;
  };
  slotctl({"automation", "pause", "--reason", "before the restart"});
  slotctl({"automation", "resume"});

  Process follower;
  ASSERT_TRUE(
      follower
          .Start({Runfile("tools/slotctl/slotctl"), "--server=" + cluster.coordinator_address(),
                  "--insecure_loopback_only", "--json", "events", "--follow", "--since", "1h"},
                 options.root + "/follow.log")
          .ok());
  ASSERT_TRUE(WaitForCount(follower, "automation.resumed", 1)) << follower.ReadLog();

  cluster.KillCoordinator();
  ASSERT_TRUE(WaitForCount(follower, "reconnecting in", 1)) << follower.ReadLog();
  ASSERT_TRUE(cluster.StartCoordinator().ok());
  slotctl({"automation", "pause", "--reason", "after the restart"});
  slotctl({"automation", "resume"});
  ASSERT_TRUE(WaitForCount(follower, "automation.resumed", 2)) << follower.ReadLog();
  follower.Stop();

  const std::string log = follower.ReadLog();
  EXPECT_TRUE(absl::StrContains(log, "slotctl: the event stream ended: UNAVAILABLE")) << log;
  EXPECT_TRUE(absl::StrContains(log, "slotctl: reconnected; resuming after event")) << log;
  const std::vector<slotkeeper::v1::Event> events = PrintedEvents(log);
  ASSERT_GE(events.size(), 6u) << log;
  bool restarted = false, after = false;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) {
      EXPECT_EQ(events[i].seq(), events[i - 1].seq() + 1)
          << "event " << events[i - 1].seq() << " is followed by " << events[i].seq() << "\n"
          << log;
    }
    restarted |= events[i].kind() == "coordinator.start" && i > 0;
    after |= absl::StrContains(events[i].text(), "after the restart");
  }
  EXPECT_TRUE(restarted) << "the restarted coordinator's first event\n" << log;
  EXPECT_TRUE(after) << log;
}

}  // namespace
}  // namespace slotkeeper::testing
