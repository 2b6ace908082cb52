// Fault test: the coordinator is SIGKILLed and kept down
// for five leases while mail is delivered to the masters.
//
// Every master's agent, silent from the coordinator, asks the store's other
// copies for failsafe leases and keeps serving on their grants: no master is
// demoted, no demote hook runs, and every stand-in mail server started by a
// promote hook keeps running. When the coordinator returns it renews the
// masters (they leave failsafe) without a failover, and what it says is true
// throughout: a store shown healthy has a serving master. A second slotmgrd
// on the same address fails to start with a clear error. Every copy ends up
// with every message, those delivered during the outage included.
#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

TEST(FaultCoordinatorDownTest, MastersKeepServingOnFailsafeGrants) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = ControlPlaneOptions("fault_coordinator_down");
  // Reconnection within a fraction of the 4 s lease: a master still on
  // failsafe when the coordinator returns is refused by witnesses that
  // already hear it, and must reconnect before its failsafe lease ends.
  options.agent_flags = {"--backoff_max_ms=500"};
  const MailScale scale = ScaleFromEnv({4, 80}, options);
  auto started = StartHookedCluster(options, absl::Seconds(3));
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  const std::map<std::string, std::string> masters = {{"st1", "imap1/du1s1"},
                                                      {"st2", "imap2/du1s1"}};
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}, {"st2", "imap2", "du1s1"}},
                                  scale.users, scale.messages);
  ASSERT_TRUE(reference.ok()) << reference.status();
  std::map<std::string, uint64_t> epochs;
  std::map<std::string, pid_t> servers;  // by store
  for (const auto& [store, master] : masters) {
    auto info = c.Store(store);
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(MasterOf(*info), master);
    epochs[store] = info->master_epoch();
    auto server = h.WaitForServer(HostOf(master), SlotOf(master), absl::Seconds(10));
    ASSERT_TRUE(server.ok()) << server.status();
    servers[store] = server->pid;
  }

  // Mail goes on arriving at both masters.
  std::map<std::string, std::unique_ptr<Delivery>> deliveries;
  int seed = 1000;
  for (const auto& [store, master] : masters) {
    deliveries[store] = std::make_unique<Delivery>();
    ASSERT_TRUE(deliveries[store]
                    ->Start(c, options.root, HostOf(master), SlotOf(master), seed += 1000)
                    .ok());
  }
  absl::SleepFor(absl::Seconds(2));

  const absl::Time killed = absl::Now();
  c.KillCoordinator();
  c.Log("coordinator killed; down for 5 leases");
  std::vector<std::string> stopped;
  while (absl::Now() < killed + 5 * kLease) {
    for (const auto& [store, pid] : servers) {
      if (!ProcessAlive(pid)) stopped.push_back(absl::StrCat(store, " (pid ", pid, ")"));
    }
    if (!stopped.empty()) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(stopped.empty()) << "stand-in mail servers stopped while the coordinator was down: "
                               << absl::StrJoin(stopped, ", ");
  for (const HookRun& r : h.RunsSince(killed, "demote")) {
    ADD_FAILURE() << "demote hook ran during the outage: " << r.host << "/" << r.slot << " "
                  << r.store << "@" << r.epoch;
  }
  for (const auto& [store, master] : masters) {
    std::vector<LogLine> renewals = AgentLogLines(c, HostOf(master), "serving on failsafe grants");
    std::optional<absl::Time> first;
    for (const LogLine& l : renewals) {
      if (l.time >= killed - absl::Milliseconds(5)) {
        first = l.time;
        break;
      }
    }
    EXPECT_TRUE(first.has_value()) << master << " never logged a failsafe extension";
    if (first) {
      std::fprintf(stderr, "failsafe renewal after coordinator loss: %lld ms (%s, %s)\n",
                   static_cast<long long>(absl::ToInt64Milliseconds(*first - killed)),
                   store.c_str(), master.c_str());
    }
    for (const LogLine& l : AgentLogLines(c, HostOf(master), "stops serving when its lease ends")) {
      if (l.time >= killed) ADD_FAILURE() << "a failsafe refusal during the outage: " << l.text;
    }
  }

  // The coordinator returns and renews the masters.
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(c.StartCoordinator().ok());
  std::vector<std::string> untruthful;
  bool renewed = false;
  const absl::Time deadline = restarted + absl::Seconds(30);
  absl::Time renewed_at;
  while (absl::Now() < deadline) {
    auto stores = c.Stores();
    if (!stores.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    bool all = true;
    for (const v1::StoreInfo& s : *stores) {
      const v1::Copy* m = MasterCopyOf(s);
      if (s.state() == v1::STORE_HEALTHY && (m == nullptr || !m->serving())) {
        untruthful.push_back(
            absl::StrCat(s.name(), " HEALTHY without a serving master: ", s.ShortDebugString()));
      }
    }
    // Renewed: the master's agent opened a session with the new coordinator
    // and then the coordinator ended the store's failsafe, or has shown the
    // master serving without failsafe for a second since the session opened
    // (what it loaded from disk before that proves nothing).
    auto events = ListAllEvents(c);
    for (const auto& [store, master] : masters) {
      std::optional<absl::Time> session;
      for (const LogLine& l : AgentLogLines(c, HostOf(master), "open with coordinator")) {
        if (l.time >= restarted - absl::Milliseconds(5)) session = l.time;
      }
      if (!session) {
        all = false;
        continue;
      }
      bool ended = false;
      int starts = 0;
      if (events.ok()) {
        for (const v1::Event& e : *events) {
          starts += e.kind() == "coordinator.start";
          ended =
              ended || (starts >= 2 && e.kind() == "store.failsafe_ended" && e.store() == store);
        }
      }
      auto slot = SlotInfoOf(c, HostOf(master), SlotOf(master));
      const bool renewed_now = slot.ok() && slot->serving() && !slot->serving_on_failsafe() &&
                               absl::Now() > *session + absl::Seconds(1);
      all = all && (ended || renewed_now);
    }
    if (all && !renewed) {
      renewed = true;
      renewed_at = absl::Now();
      c.Log(absl::StrCat("every master renewed by the coordinator ",
                         absl::FormatDuration(renewed_at - restarted), " after its restart"));
    }
    // Go on watching for a while after the renewal.
    if (renewed && absl::Now() > renewed_at + absl::Seconds(3)) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(renewed) << "the masters were not renewed (serving, off failsafe) within 30 s";
  EXPECT_TRUE(untruthful.empty()) << absl::StrJoin(untruthful, "\n");
  for (const auto& [store, master] : masters) {
    auto info = c.Store(store);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(MasterOf(*info), master) << store << " changed master";
    EXPECT_EQ(info->master_epoch(), epochs[store]) << store << " was failed over";
    EXPECT_TRUE(ProcessAlive(servers[store])) << store << ": the stand-in server stopped";
  }
  for (const HookRun& r : h.RunsSince(killed, "")) {
    ADD_FAILURE() << r.action << " hook ran after the coordinator's kill: " << r.host << "/"
                  << r.slot << " " << r.store << "@" << r.epoch;
  }
  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok());
  int failsafe = 0, ended = 0;
  for (const v1::Event& e : *events) {
    failsafe += e.kind() == "store.failsafe";
    ended += e.kind() == "store.failsafe_ended";
    if (e.kind() == "store.failover" || e.kind() == "store.repromote" ||
        e.kind() == "slot.not_serving") {
      ADD_FAILURE() << "unexpected event " << e.kind() << ": " << e.text();
    }
  }
  c.Log(absl::StrCat(failsafe, " store.failsafe and ", ended, " store.failsafe_ended events"));
  EXPECT_EQ(failsafe, ended) << "a store.failsafe without its store.failsafe_ended";
  std::string out;
  c.Slotctl({"status"}, &out).IgnoreError();
  std::fprintf(stderr, "$ slotctl status\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "MAIL SAFE")) << out;

  // A second coordinator on the same address refuses to start.
  std::string second;
  std::vector<std::string> argv = {Runfile("slotmgr/slotmgrd"),
                                   "--listen=" + c.coordinator_address(),
                                   "--data_dir=" + options.root + "/slotmgr-second"};
  for (std::string& flag : c.TransportFlags("slotmgr")) argv.push_back(std::move(flag));
  auto code = RunCommand(argv, &second, absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0) << second;
  EXPECT_TRUE(absl::StrContains(second, "cannot listen on " + c.coordinator_address())) << second;

  // Every copy gets every message, those delivered during the outage too.
  for (auto& [store, d] : deliveries) ASSERT_TRUE(d->Stop().ok());
  for (const auto& [store, master] : masters) {
    auto final_content = WaitForCopiesToMatchMaster(c, store, absl::Seconds(60));
    ASSERT_TRUE(final_content.ok()) << final_content.status();
    EXPECT_GT(MessageCount(*final_content), MessageCount(reference->at(store)));
  }
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
  std::fprintf(stderr, "coordinator down test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
