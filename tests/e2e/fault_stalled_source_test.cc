// Fault test: the source of a re-replication stops answering
// mid-copy (its peer port's TCP proxy stalls: connections stay open, nothing
// moves).
//
// A replica's unit is declared lost, so a task copies st1 to a new slot;
// once bytes have moved, the task's source is stalled. The target's data
// path gives up on the source (its time limits, sync/peer_client.h), the
// task is retried from another source (task.retry, then a task.started that
// names the new source) and completes. Meanwhile fencing is unaffected: the
// master keeps its lease and its stand-in mail server (the control path does
// not wait on the data path). Then a second copy is stalled the same way and
// the target's agent is sent SIGTERM: it ends within a few seconds. Every
// copy ends with every message.
//
// The stall is noticed by gRPC keepalive (base/grpc_util.cc: a ping after
// 5 s, 3 s to answer) or the data path's time limits, whichever ends first.
#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

// Declares the unit of HOST/SLOT lost; returns the tasks created.
std::vector<std::string> MarkUnitOfSlotLost(Cluster& c, const std::string& host_slot) {
  const std::string slot = SlotOf(host_slot);
  grpc::ClientContext ctx;
  v1::MarkLostRequest req;
  req.set_host(HostOf(host_slot));
  req.set_unit(slot.substr(0, slot.find('s')));
  req.set_reason("fault test: a copy to re-replicate");
  v1::MarkLostResponse resp;
  grpc::Status st = c.api().MarkLost(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return {resp.tasks_created().begin(), resp.tasks_created().end()};
}

absl::StatusOr<v1::TaskInfo> TaskById(Cluster& c, const std::string& id) {
  auto tasks = ListAllTasks(c);
  if (!tasks.ok()) return tasks.status();
  for (const v1::TaskInfo& t : *tasks) {
    if (t.id() == id) return t;
  }
  return absl::NotFoundError(id);
}

// Waits until task `id` runs and has copied something; returns it.
absl::StatusOr<v1::TaskInfo> WaitForProgress(Cluster& c, const std::string& id,
                                             absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::TaskInfo last;
  while (absl::Now() < deadline) {
    auto t = TaskById(c, id);
    if (t.ok()) {
      last = *t;
      if (t->state() == v1::TASK_RUNNING && t->progress().bytes_done() > 0) return *t;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("task ", id, " made no progress; last: ", last.ShortDebugString()));
}

// The events of `kind` about task `id`.
std::vector<v1::Event> TaskEvents(Cluster& c, const std::string& id, const std::string& kind) {
  std::vector<v1::Event> out;
  auto events = ListAllEvents(c);
  if (!events.ok()) return out;
  for (const v1::Event& e : *events) {
    if (e.kind() == kind && absl::StrContains(e.text(), "task " + id + " ")) out.push_back(e);
  }
  return out;
}

TEST(FaultStalledSourceTest, TargetGivesUpRetriesElsewhereAndStopsOnSigterm) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = ControlPlaneOptions("fault_stalled_source");
  options.proxy_links = true;
  options.coordinator_flags.push_back("--max_task_attempts=5");
  // About 5 s per copy: the stall lands mid-copy.
  options.agent_flags = {"--sync_bandwidth_bytes_per_second=2500000"};
  auto started = StartHookedCluster(options, absl::Seconds(3));
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, 12, 240);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  auto server = h.WaitForServer("imap1", "du1s1", absl::Seconds(10));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<std::string> replicas = ReplicasOf(*before);
  ASSERT_EQ(replicas.size(), 2u);

  // Both replicas in sync: the replacement's source is then a replica (the
  // planner prefers one), and a retry has the master to turn to.
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [](const v1::StoreInfo& s) {
                     for (const v1::Copy& copy : s.copies()) {
                       if (!copy.in_sync() || !copy.usable()) return false;
                     }
                     return true;
                   },
                   absl::Seconds(30), "every copy in sync")
                  .ok());

  // 1. A replica is lost; its replacement's source stalls mid-copy.
  std::vector<std::string> tasks = MarkUnitOfSlotLost(c, replicas[1]);
  ASSERT_EQ(tasks.size(), 1u);
  const std::string id = tasks.front();
  auto running = WaitForProgress(c, id, absl::Seconds(30));
  ASSERT_TRUE(running.ok()) << running.status();
  const std::string source = absl::StrCat(running->source().host(), "/", running->source().slot());
  const std::string target = absl::StrCat(running->target().host(), "/", running->target().slot());
  const absl::Time stalled = absl::Now();
  c.PeerLink(HostOf(source))->SetMode(TcpProxy::Mode::kStall);
  c.Log(absl::StrCat("task ", id, " (", source, " -> ", target, ") stalled at ",
                     running->progress().bytes_done(), " bytes"));

  // The control path goes on: the master keeps its lease and its server.
  bool master_kept = true;
  absl::Status retried = absl::DeadlineExceededError("no task.retry");
  const absl::Time retry_deadline = stalled + absl::Seconds(90);
  while (absl::Now() < retry_deadline) {
    if (!ProcessAlive(server->pid)) master_kept = false;
    if (!TaskEvents(c, id, "task.retry").empty()) {
      retried = absl::OkStatus();
      break;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(retried.ok()) << "the target never gave up on the stalled source (task " << id << ", "
                            << absl::FormatDuration(absl::Now() - stalled) << ")";
  std::vector<v1::Event> retries = TaskEvents(c, id, "task.retry");
  std::fprintf(stderr, "stalled source given up after %lld ms: %s\n",
               static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - stalled)),
               retries.front().text().c_str());
  std::vector<v1::Event> starts;
  const absl::Time restart_deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < restart_deadline) {
    starts = TaskEvents(c, id, "task.started");
    if (starts.size() >= 2) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GE(starts.size(), 2u) << "task " << id << " was not started again";
  EXPECT_TRUE(absl::StrContains(starts[1].text(), "instead of " + source)) << starts[1].text();
  const absl::Time done_deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < done_deadline && TaskEvents(c, id, "task.done").empty()) {
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_FALSE(TaskEvents(c, id, "task.done").empty()) << "task " << id << " not done";
  EXPECT_TRUE(master_kept && ProcessAlive(server->pid))
      << "the master's stand-in server stopped during the stall";
  auto info = c.Store("st1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(MasterOf(*info), "imap1/du1s1");
  EXPECT_EQ(info->master_epoch(), before->master_epoch());
  EXPECT_TRUE(MasterCopyOf(*info) != nullptr && MasterCopyOf(*info)->serving());
  EXPECT_TRUE(h.RunsSince(stalled, "demote").empty()) << "a master was fenced during the stall";
  c.PeerLink(HostOf(source))->SetMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(WaitForFullRecovery(
                  c, [](const v1::StoreInfo&) { return false; }, absl::Seconds(60),
                  "st1 healthy, no task left")
                  .ok());

  // 2. Another copy stalls the same way; the target's agent gets SIGTERM.
  auto now_info = c.Store("st1");
  ASSERT_TRUE(now_info.ok());
  const std::vector<std::string> now_replicas = ReplicasOf(*now_info);
  ASSERT_FALSE(now_replicas.empty());
  const std::string to_lose = now_replicas.front();
  tasks = MarkUnitOfSlotLost(c, to_lose);
  ASSERT_EQ(tasks.size(), 1u);
  auto second = WaitForProgress(c, tasks.front(), absl::Seconds(30));
  ASSERT_TRUE(second.ok()) << second.status();
  const std::string second_source = second->source().host();
  const std::string second_target = second->target().host();
  c.PeerLink(second_source)->SetMode(TcpProxy::Mode::kStall);
  absl::SleepFor(absl::Seconds(2));
  const absl::Time term = absl::Now();
  const int status = c.agent(second_target)->Stop(absl::Seconds(15));
  const absl::Duration took = absl::Now() - term;
  std::fprintf(stderr, "agent SIGTERM during a stalled copy: %lld ms (exit %d)\n",
               static_cast<long long>(absl::ToInt64Milliseconds(took)), status);
  EXPECT_LT(took, absl::Seconds(5)) << second_target << "'s agent took too long to stop";
  EXPECT_EQ(status, 0) << second_target << "'s agent did not exit cleanly on SIGTERM";
  c.PeerLink(second_source)->SetMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(c.StartAgent(second_target).ok());
  ASSERT_TRUE(WaitForFullRecovery(
                  c, [](const v1::StoreInfo&) { return false; }, absl::Seconds(60),
                  "st1 healthy, no task left")
                  .ok());
  // Once a lost copy has been replaced and dropped, its agent's slot reports
  // still show the store's marker in that slot (the unit was only declared
  // lost): the coordinator must not adopt it again (a copy on a unit
  // declared lost, a second copy on that host, four where three are wanted).
  absl::SleepFor(absl::Seconds(3));  // a slot scan or two
  auto final_info = c.Store("st1");
  ASSERT_TRUE(final_info.ok());
  for (const v1::Copy& copy : final_info->copies()) {
    const std::string name = SlotName(copy);
    EXPECT_TRUE(name != replicas[1] && name != to_lose)
        << "the copy on a unit declared lost (" << name << ") was adopted again as a "
        << v1::SlotRole_Name(copy.role());
  }
  EXPECT_EQ(final_info->copies_size(), 3) << final_info->ShortDebugString();
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", reference->at("st1"), {replicas[1], to_lose})));
  std::fprintf(stderr, "stalled source test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
