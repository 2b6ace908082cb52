// Test support for the coordinator (testonly): literal inventories, a fake
// agent's messages, and CoordinatorFixture, a coordinator on a real RocksDB
// in the test's temp directory with a fake clock.
#ifndef SLOTKEEPER_SLOTMGR_TESTING_COORDINATOR_FIXTURE_H_
#define SLOTKEEPER_SLOTMGR_TESTING_COORDINATOR_FIXTURE_H_

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/lost_units.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/testing/slot_ref.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr::testing {

// Host `name` with `units` drive units, one filesystem each (/srv/duN), and
// `slots_per_unit` slots per filesystem named sNN (capacity 100 GB).
inline v1::HostInventory MakeInventory(const std::string& name, int units = 2,
                                       int slots_per_unit = 2) {
  v1::HostInventory inv;
  inv.set_host(name);
  inv.set_peer_address(absl::StrCat(name, ":7400"));
  inv.set_agent_version("test");
  int n = 0;
  for (int u = 1; u <= units; ++u) {
    v1::DriveUnit* du = inv.add_units();
    du->set_name(absl::StrCat("du", u));
    v1::Filesystem* fs = inv.add_filesystems();
    fs->set_mount_point(absl::StrCat("/srv/du", u));
    fs->set_unit(du->name());
    for (int s = 0; s < slots_per_unit; ++s) {
      v1::Slot* slot = inv.add_slots();
      ++n;
      slot->set_name(absl::StrCat("s", n < 10 ? "0" : "", n));
      slot->set_path(absl::StrCat(fs->mount_point(), "/", slot->name()));
      slot->set_filesystem(fs->mount_point());
      slot->set_capacity_bytes(100ull << 30);
      slot->set_service_address(absl::StrCat(name, ":", 1000 + n));
    }
  }
  return inv;
}

inline v1::Condition FsCondition(v1::ConditionType type, const std::string& mount) {
  v1::Condition c;
  c.set_type(type);
  c.set_subject_kind(v1::SUBJECT_FILESYSTEM);
  c.set_subject(mount);
  c.set_reason("test");
  c.set_hard(true);
  return c;
}

inline const std::vector<std::string> kThreeHosts = {"imap1", "imap2", "imap3"};

inline std::string TempDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return absl::StrCat(t != nullptr ? t : "/tmp", "/", name);
}

// A coordinator over a RocksDB in the test's temp dir, with a fake clock.
class CoordinatorFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    // A parameterized test's name holds a '/': one directory per instance.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = TempDir(name);
    std::system(("rm -rf " + dir_).c_str());
    Open();
  }

  void Open() {
    auto store = RocksStateStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto c = Coordinator::Create(store_.get(), &clock_, config_);
    ASSERT_TRUE(c.ok()) << c.status();
    coord_ = std::move(*c);
  }

  // Whatever a test did, the model must stay one the planners accept.
  void TearDown() override {
    if (coord_ == nullptr) return;
    absl::StatusOr<ClusterView> view = BuildView(coord_->queries().TEST_Model(), {});
    EXPECT_TRUE(view.ok()) << view.status();
  }

  // Simulates SIGKILL + restart: drop everything in memory, reopen the DB.
  void Restart() {
    coord_.reset();
    store_.reset();
    Open();
  }

  std::string RegisterHost(const v1::HostInventory& inv) {
    v1::RegisterRequest req;
    *req.mutable_inventory() = inv;
    req.set_agent_time_ms(clock_.NowMs());
    auto resp = coord_->Register(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (!resp.ok()) return "";
    sessions_[inv.host()] = resp->session_id();
    v1::SessionHello hello;
    hello.set_host(inv.host());
    hello.set_session_id(resp->session_id());
    EXPECT_TRUE(coord_->Hello(hello).ok());
    return resp->session_id();
  }

  // A report of `host`, holding the leases of the promotions it acknowledged
  // (as a real agent does; see AckAll).
  absl::StatusOr<std::optional<v1::LeaseRenewal>> Report(
      const std::string& host, std::vector<v1::Condition> conditions = {}) {
    v1::HealthReport r;
    r.set_report_id(++report_id_);
    r.set_agent_time_ms(clock_.NowMs());
    for (auto& c : conditions) *r.add_conditions() = c;
    for (const auto& [slot, lease] : held_[host]) *r.add_leases_held() = lease;
    return coord_->ApplyReport(host, sessions_[host], r);
  }

  // The fake agent of `host` loses its leases (it restarted, or fenced).
  void DropLeases(const std::string& host) { held_[host].clear(); }

  // Every host reports (no conditions) then the coordinator ticks.
  void Heartbeat(const std::vector<std::string>& hosts) {
    for (const auto& h : hosts) ASSERT_TRUE(Report(h).ok());
    ASSERT_TRUE(coord_->Tick().ok());
  }

  // Acknowledges every command sent to `host` (promotions take the lease,
  // demotions drop it); returns them.
  std::vector<v1::Command> AckAll(const std::string& host) {
    std::vector<v1::Command> cmds = coord_->TakeCommandsToSend(host);
    for (const auto& c : cmds) {
      if (c.has_promote()) {
        v1::Lease& l = held_[host][c.promote().slot()];
        l = c.promote().lease();
        l.set_slot(c.promote().slot());
      }
      if (c.has_demote()) held_[host].erase(c.demote().slot());
      v1::CommandAck ack;
      ack.set_command_id(c.id());
      ack.set_ok(true);
      EXPECT_TRUE(coord_->ApplyAck(host, ack).ok());
    }
    return cmds;
  }

  // The fake agents of `hosts` answer every final pull sent to them as
  // complete; other commands stay unacknowledged. Returns how many.
  int AnswerFinalPulls(const std::vector<std::string>& hosts) {
    int n = 0;
    for (const std::string& host : hosts) {
      for (const v1::Command& c : coord_->TakeCommandsToSend(host)) {
        if (!c.has_final_pull()) continue;
        v1::CommandAck ack;
        ack.set_command_id(c.id());
        ack.set_ok(true);
        EXPECT_TRUE(coord_->ApplyAck(host, ack).ok());
        ++n;
      }
    }
    return n;
  }

  absl::Status FinishTask(const std::string& host, const std::string& task, bool verified = true) {
    v1::TaskUpdate u;
    u.set_task_id(task);
    u.set_state(v1::TASK_DONE);
    u.set_verified(verified);
    return coord_->ApplyTaskUpdate(host, u);
  }

  // Runs every started task to completion.
  void CompleteRunningTasks() {
    const v1::ListTasksResponse tasks = coord_->queries().ListTasks({});
    for (const auto& t : tasks.tasks()) {
      if (t.state() == v1::TASK_RUNNING) {
        ASSERT_TRUE(FinishTask(t.target().host(), t.id()).ok());
      }
    }
  }

  std::vector<v1::Event> EventsOfKind(const std::string& kind) {
    std::vector<v1::Event> out;
    auto events = coord_->queries().EventsAfter(0, 100000);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) {
      if (e.kind() == kind) out.push_back(e);
    }
    return out;
  }

  // imap1, imap2, imap3 (MakeInventory) registered.
  void RegisterThree() {
    for (const auto& h : kThreeHosts) RegisterHost(MakeInventory(h));
  }

  // Store "st1": master imap1/s01, replicas imap2/s01 and imap3/s01, seeded.
  void CreateHealthyStore() {
    v1::CreateStoreRequest req;
    req.set_store("st1");
    *req.mutable_master() = Ref("imap1", "s01");
    *req.add_replicas() = Ref("imap2", "s01");
    *req.add_replicas() = Ref("imap3", "s01");
    auto st = slotmgr::CreateStore(*coord_, req);
    ASSERT_TRUE(st.ok()) << st.status();
    CompleteRunningTasks();
    for (const auto& h : kThreeHosts) AckAll(h);
    auto info = coord_->queries().GetStore("st1");
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info->state(), v1::STORE_HEALTHY) << info->DebugString();
  }

  std::string MasterOf(const std::string& store) {
    auto info = coord_->queries().GetStore(store);
    EXPECT_TRUE(info.ok());
    for (const auto& c : info->copies()) {
      if (c.role() == v1::SLOT_MASTER) return model::SlotName(c.slot());
    }
    return "";
  }

  // An operator declares `host`'s drive unit `unit` lost (every unit when
  // `unit` is empty).
  absl::StatusOr<v1::MarkLostResponse> MarkLost(const std::string& host,
                                                const std::string& unit = "") {
    v1::MarkLostRequest req;
    req.set_host(host);
    req.set_unit(unit);
    return slotmgr::MarkLost(*coord_, req);
  }

  // The second opinion on `host`/`unit` arrives (as the server's worker
  // applies it, second_opinion.h); true when the unit was held or declared.
  bool ApplyOpinion(const std::string& host, const std::string& unit, bool readable) {
    absl::StatusOr<bool> r = coord_->Mutate<bool>([&](Mutation& m) -> absl::StatusOr<bool> {
      return ApplySecondOpinion(m, {host, unit, readable, readable ? "read" : "unreadable"});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && *r;
  }

  // The whole model, serialized: equal strings mean nothing changed.
  std::string Serialized() {
    ClusterModel m = coord_->queries().TEST_Model();
    std::string out;
    for (const auto& [n, h] : m.hosts) out += h.SerializeAsString();
    for (const auto& [n, s] : m.stores) out += s.SerializeAsString();
    for (const auto& [n, t] : m.tasks) out += t.SerializeAsString();
    return out;
  }

  CoordinatorConfig config_;
  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<RocksStateStore> store_;
  std::unique_ptr<Coordinator> coord_;
  // The leases each fake agent holds, by host and slot.
  std::map<std::string, std::map<std::string, v1::Lease>> held_;
  std::map<std::string, std::string> sessions_;
  uint64_t report_id_ = 0;
};

}  // namespace slotkeeper::slotmgr::testing

#endif  // SLOTKEEPER_SLOTMGR_TESTING_COORDINATOR_FIXTURE_H_
