// Push replication with real agents: a message delivered on a store's
// master appears on both replicas without waiting for a poll. Every
// agent's whole catch-up (poll interval and safety net alike) is ten
// minutes here, so only the master's change feed can bring a message over
// within the test's wait; the replicas say they follow by push (their
// agents' metrics) and stay in sync with no whole catch-up. No timing is
// asserted: the observed delays are printed.
#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/http_test_client.h"
#include "base/metrics_text.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kWait = absl::Seconds(90);  // far below the 10 min poll

absl::StatusOr<Exposition> Scrape(int port) {
  absl::StatusOr<HttpReply> reply = HttpGet(port, "/metrics");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return absl::InternalError(absl::StrCat("/metrics: ", reply->status));
  return ParseExposition(reply->body);
}

// The first user directory of a slot.
std::string FirstUser(const std::string& slot) {
  std::vector<std::string> users;
  for (const auto& e : fs::directory_iterator(fs::path(slot) / "users")) {
    users.push_back(e.path().filename().string());
  }
  std::sort(users.begin(), users.end());
  return users.empty() ? "" : users.front();
}

// Delivers like an LDA: the message written and synced in tmp/, renamed
// into new/.
void Deliver(const std::string& user_dir, const std::string& name) {
  const std::string tmp = user_dir + "/tmp/" + name;
  {
    std::ofstream out(tmp);
    out << "From: a@example.org\nSubject: push " << name << "\n\nbody\n";
  }
  ASSERT_EQ(rename(tmp.c_str(), (user_dir + "/new/" + name).c_str()), 0) << tmp;
}

TEST(PushReplicationTest, DeliveredMailReachesBothReplicasWithoutAPoll) {
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/push";
  options.verbose = true;
  options.agent_config_extra =
      "data_path { catch_up_interval_ms: 600000 safety_net_interval_ms: 600000 }";
  auto cluster = StartCluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.CreateStores({{"st1", "imap1", "du1s1"}}, 4, 40).ok());
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok()) << store.status();
  std::string master;
  std::vector<std::pair<std::string, std::string>> replicas;  // host, slot path
  for (const auto& copy : store->copies()) {
    const std::string path = c.SlotPath(copy.slot().host(), copy.slot().slot());
    if (copy.role() == v1::SLOT_MASTER) master = path;
    if (copy.role() == v1::SLOT_REPLICA) replicas.push_back({copy.slot().host(), path});
  }
  ASSERT_FALSE(master.empty());
  ASSERT_EQ(replicas.size(), 2u);
  const std::string user = FirstUser(master);
  ASSERT_FALSE(user.empty());

  // Each replica's agent reports that it follows its master by push.
  for (const auto& [host, path] : replicas) {
    const absl::Time deadline = absl::Now() + kWait;
    bool push = false;
    while (!push && absl::Now() < deadline) {
      auto m = Scrape(c.agent_http_port(host));
      push = m.ok() && m->Has("slotkeeper_agent_replica_feed", {{"feed", "push"}});
      if (!push) absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(push) << host << " does not follow st1's master by push";
  }

  for (int i = 0; i < 5; ++i) {
    const std::string name = absl::StrCat("push-e2e-", i, ".imap1");
    const absl::Time delivered = absl::Now();
    Deliver(master + "/users/" + user, name);
    for (const auto& [host, path] : replicas) {
      const std::string there = path + "/users/" + user + "/new/" + name;
      while (!fs::exists(there) && absl::Now() < delivered + kWait) {
        absl::SleepFor(absl::Milliseconds(2));
      }
      ASSERT_TRUE(fs::exists(there)) << name << " never reached " << host;
      std::fprintf(stderr, "message %d on %s after %s\n", i, host.c_str(),
                   absl::FormatDuration(absl::Now() - delivered).c_str());
    }
  }

  // The copies came by push cycles, and the coordinator sees both replicas
  // in sync without any whole catch-up since.
  for (const auto& [host, path] : replicas) {
    auto m = Scrape(c.agent_http_port(host));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_GE(m->Sum("slotkeeper_agent_catch_up_push_cycles_total"), 1) << host;
  }
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [](const v1::StoreInfo& s) {
                     int in_sync = 0;
                     for (const auto& copy : s.copies()) {
                       in_sync += copy.role() == v1::SLOT_REPLICA && copy.in_sync();
                     }
                     return in_sync == 2;
                   },
                   kWait, "both replicas in sync")
                  .ok());
}

}  // namespace
}  // namespace slotkeeper::testing
