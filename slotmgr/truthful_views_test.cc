// What the coordinator shows must be true: user counts, task progress and
// times, as model.proto documents them. Regression tests for each figure,
// then a property test: random sequences of reports (slot usage, replication
// status from agents with skewed clocks, failures), task updates, operator
// actions and ticks, after each of which every view is checked:
//   - no store shows fewer users than any of its usable copies holds;
//   - no progress (a task's, or the recovery's) exceeds its total (a total
//     may be unknown, 0, never smaller than what is done);
//   - no time shown is in the future.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/task_manager.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FsCondition;
using testing::MakeInventory;
using testing::Ref;

constexpr int64_t kSixHours = 6 * 3600 * 1000;

class TruthfulViewsTest : public testing::CoordinatorFixture {
 protected:
  // A report of `host` whose clock is `skew_ms` off, with each slot's user
  // count and, for the slots holding a copy, a replication status that says
  // it synced `synced_ago_ms` ago (in its own clock).
  absl::Status ReportAs(const std::string& host, int64_t skew_ms,
                        const std::map<std::string, uint64_t>& users_by_slot,
                        int64_t synced_ago_ms = 1000, bool in_sync = true,
                        std::vector<v1::Condition> conditions = {}) {
    v1::HealthReport r;
    r.set_report_id(++report_id_);
    const int64_t agent_now = clock_.NowMs() + skew_ms;
    r.set_agent_time_ms(agent_now);
    for (auto& c : conditions) *r.add_conditions() = std::move(c);
    for (const auto& [slot, lease] : held_[host]) *r.add_leases_held() = lease;
    auto h = coord_->queries().GetHost(host);
    if (!h.ok()) return h.status();
    for (const v1::SlotInfo& s : h->slots()) {
      auto u = users_by_slot.find(s.ref().slot());
      if (u != users_by_slot.end()) {
        v1::SlotUsage* usage = r.add_slots();
        usage->set_slot(s.ref().slot());
        usage->set_used_bytes(u->second * 1000);
        usage->set_user_count(u->second);
      }
      if (s.store().empty() || s.role() == v1::SLOT_SPARE || s.role() == v1::SLOT_LOST) continue;
      v1::ReplicationStatus* rs = r.add_replication();
      rs->set_slot(s.ref().slot());
      rs->set_store(s.store());
      rs->set_role(s.role());
      rs->set_in_sync(in_sync);
      rs->set_last_synced_ms(agent_now - synced_ago_ms);
      rs->mutable_scrub()->set_last_full_pass_ms(agent_now - 2 * synced_ago_ms);
    }
    return coord_->ApplyReport(host, sessions_[host], r).status();
  }

  v1::StoreInfo Store(const std::string& name) {
    auto s = coord_->queries().GetStore(name);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::StoreInfo();
  }

  const v1::Copy* CopyOn(const v1::StoreInfo& s, const std::string& host) {
    for (const v1::Copy& c : s.copies()) {
      if (c.slot().host() == host) return &c;
    }
    return nullptr;
  }
};

TEST_F(TruthfulViewsTest, AStoreCountsTheUsersItsCopiesReport) {
  RegisterThree();
  CreateHealthyStore();
  // The agents never sent slot contents: only their usage counts.
  ASSERT_TRUE(ReportAs("imap1", 0, {{"s01", 20}}).ok());
  ASSERT_TRUE(ReportAs("imap2", 0, {{"s01", 19}}).ok());
  v1::StoreInfo s = Store("st1");
  EXPECT_EQ(s.user_count(), 20u);
  EXPECT_EQ(CopyOn(s, "imap2")->user_count(), 19u);
  auto listed = coord_->queries().ListStores(false);
  ASSERT_EQ(listed.stores_size(), 1);
  EXPECT_EQ(listed.stores(0).user_count(), 20u);
}

TEST_F(TruthfulViewsTest, AnUnusableCopyDoesNotSetTheCount) {
  RegisterThree();
  CreateHealthyStore();
  ASSERT_TRUE(ReportAs("imap1", 0, {{"s01", 20}}).ok());
  ASSERT_TRUE(
      ReportAs("imap3", 0, {{"s01", 50}}, 1000, true, {FsCondition(v1::READ_ONLY, "/srv/du1")})
          .ok());
  ASSERT_TRUE(coord_->Tick().ok());
  v1::StoreInfo s = Store("st1");
  ASSERT_FALSE(CopyOn(s, "imap3")->usable()) << s.DebugString();
  EXPECT_EQ(s.user_count(), 20u);
}

TEST_F(TruthfulViewsTest, AgentTimesAreShownInTheCoordinatorsClockWithTheRawValueKept) {
  RegisterThree();
  CreateHealthyStore();
  // imap2's clock runs six hours behind; it synced a second ago.
  ASSERT_TRUE(ReportAs("imap2", -kSixHours, {}, 1000).ok());
  const v1::Copy* c = CopyOn(Store("st1"), "imap2");
  const int64_t now = clock_.NowMs();
  EXPECT_NEAR(c->last_synced_ms(), now - 1000, 50);
  EXPECT_NEAR(c->last_synced_agent_ms(), now - kSixHours - 1000, 50);
  EXPECT_NEAR(c->scrub_last_full_pass_ms(), now - 2000, 50);
  EXPECT_NEAR(c->scrub_last_full_pass_agent_ms(), now - kSixHours - 2000, 50);
  // A clock ahead: never shown in the future.
  ASSERT_TRUE(ReportAs("imap3", kSixHours, {}, 0).ok());
  EXPECT_LE(CopyOn(Store("st1"), "imap3")->last_synced_ms(), clock_.NowMs());
}

TEST_F(TruthfulViewsTest, ANewMasterIsInSyncAfterAFailover) {
  RegisterThree();
  CreateHealthyStore();
  ASSERT_TRUE(ReportAs("imap2", 0, {}, 1000, /*in_sync=*/false).ok());
  ASSERT_TRUE(ReportAs("imap3", 0, {}, 1000, true).ok());
  v1::FailoverRequest req;
  req.set_store("st1");
  req.mutable_to()->set_host("imap3");
  req.mutable_to()->set_slot("s01");
  auto r = slotmgr::Failover(*coord_, req);
  ASSERT_TRUE(r.ok()) << r.status();
  // imap1 gives up its lease (the demotion); the next tick promotes imap3.
  AckAll("imap1");
  ASSERT_TRUE(coord_->Tick().ok());
  for (const auto& h : testing::kThreeHosts) AckAll(h);
  v1::StoreInfo s = Store("st1");
  const v1::Copy* m = CopyOn(s, "imap3");
  ASSERT_EQ(m->role(), v1::SLOT_MASTER) << s.DebugString();
  EXPECT_TRUE(m->in_sync());
  EXPECT_EQ(m->lag_ms(), 0);
  // And the master's own replication status keeps it so.
  ASSERT_TRUE(ReportAs("imap3", 0, {}, 1000, false).ok());
  EXPECT_TRUE(CopyOn(Store("st1"), "imap3")->in_sync());
}

TEST(TruthfulProgressTest, ATotalIsNeverBelowWhatIsDoneAndUnknownKeepsTheKnownOne) {
  v1::TaskProgress known;
  known.set_users_total(60);
  known.set_bytes_total(1'000'000'000);
  v1::TaskProgress reported;
  reported.set_users_done(3);
  reported.set_bytes_done(439'300'000);  // the agent does not know its totals yet
  v1::TaskProgress p = TruthfulProgress(known, reported);
  EXPECT_EQ(p.users_total(), 60u);
  EXPECT_EQ(p.bytes_total(), 1'000'000'000u);
  EXPECT_EQ(p.bytes_done(), 439'300'000u);
  // More done than listed (mail arrived during the copy): the total follows.
  reported.set_bytes_total(80'500'000);
  reported.set_bytes_done(164'100'000);
  reported.set_users_total(40);
  reported.set_users_done(16);
  p = TruthfulProgress(known, reported);
  EXPECT_EQ(p.bytes_total(), 164'100'000u);
  EXPECT_EQ(p.users_total(), 40u);
  // Nothing known at all: the total stays unknown rather than "all done".
  v1::TaskProgress blind;
  blind.set_bytes_done(5);
  EXPECT_EQ(TruthfulProgress(v1::TaskProgress(), blind).bytes_total(), 0u);
}

TEST_F(TruthfulViewsTest, ATaskKnowsItsTotalsBeforeItStarts) {
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  // Both copies a replacement may be fed from report 20 users (20,000 bytes).
  ASSERT_TRUE(ReportAs("imap1", 0, {{"s01", 20}}).ok());
  ASSERT_TRUE(ReportAs("imap2", 0, {{"s01", 20}}).ok());
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());
  auto Replacement = [&]() -> v1::TaskInfo {
    const auto tasks = coord_->queries().ListTasks({});
    for (const v1::TaskInfo& t : tasks.tasks()) {
      if (!model::IsTaskFinished(t.state())) return t;
    }
    ADD_FAILURE() << "no unfinished task";
    return v1::TaskInfo();
  };
  v1::TaskInfo t = Replacement();
  EXPECT_EQ(t.progress().users_total(), 20u) << t.DebugString();
  EXPECT_EQ(t.progress().bytes_total(), 20'000u) << t.DebugString();
  ASSERT_EQ(t.state(), v1::TASK_RUNNING) << t.DebugString();
  // The agent's first update, its totals not known yet, keeps them; more
  // bytes done than the source's size (mail arriving) raises the total.
  v1::TaskUpdate u;
  u.set_task_id(t.id());
  u.set_state(v1::TASK_RUNNING);
  u.mutable_progress()->set_users_done(2);
  u.mutable_progress()->set_bytes_done(50'000);
  ASSERT_TRUE(coord_->ApplyTaskUpdate(t.target().host(), u).ok());
  t = Replacement();
  EXPECT_EQ(t.progress().users_total(), 20u);
  EXPECT_EQ(t.progress().bytes_total(), 50'000u);
  const v1::RecoveryProgress r = coord_->queries().GetClusterStatus().recovery();
  EXPECT_EQ(r.users_done(), 2u);
  EXPECT_EQ(r.users_total(), 20u);
  EXPECT_EQ(r.bytes_total(), 50'000u);
}

// ---- The property test ----------------------------------------------------

class TruthfulViewsPropertyTest : public TruthfulViewsTest,
                                  public ::testing::WithParamInterface<int> {
 protected:
  // Every view, checked against the three properties; `step` names the
  // sequence position in failures.
  void CheckViews(const std::string& step) {
    SCOPED_TRACE(step);
    const int64_t now = clock_.NowMs();
    const auto stores = coord_->queries().ListStores(false);
    for (const v1::StoreInfo& s : stores.stores()) {
      for (const v1::Copy& c : s.copies()) {
        if (c.usable()) {
          EXPECT_GE(s.user_count(), c.user_count()) << s.DebugString();
        }
        EXPECT_LE(c.last_synced_ms(), now) << s.DebugString();
        EXPECT_LE(c.scrub_last_full_pass_ms(), now) << s.DebugString();
      }
      EXPECT_LE(s.master_unusable_since_ms(), now);
    }
    const auto tasks = coord_->queries().ListTasks({});
    for (const v1::TaskInfo& t : tasks.tasks()) {
      const v1::TaskProgress& p = t.progress();
      if (p.users_total() > 0) EXPECT_LE(p.users_done(), p.users_total()) << t.DebugString();
      if (p.files_total() > 0) EXPECT_LE(p.files_done(), p.files_total()) << t.DebugString();
      if (p.bytes_total() > 0) EXPECT_LE(p.bytes_done(), p.bytes_total()) << t.DebugString();
      EXPECT_LE(t.created_ms(), now);
      EXPECT_LE(t.started_ms(), now);
      EXPECT_LE(t.finished_ms(), now);
    }
    const v1::ClusterStatus status = coord_->queries().GetClusterStatus();
    const v1::RecoveryProgress& r = status.recovery();
    if (r.users_total() > 0) EXPECT_LE(r.users_done(), r.users_total());
    if (r.bytes_total() > 0) EXPECT_LE(r.bytes_done(), r.bytes_total());
    const auto hosts = coord_->queries().ListHosts();
    for (const v1::HostInfo& h : hosts.hosts()) {
      EXPECT_LE(h.last_heard_ms(), now) << h.name();
      EXPECT_LE(h.state_since_ms(), now) << h.name();
    }
    auto events = coord_->queries().EventsAfter(0, 100000);
    ASSERT_TRUE(events.ok());
    for (const v1::Event& e : *events) EXPECT_LE(e.time_ms(), now) << e.DebugString();
  }

  // A random progress report for a running task: done figures that may pass
  // the reported totals, totals that may be unknown (0).
  v1::TaskUpdate RandomProgress(absl::BitGen& gen, const v1::TaskInfo& t) {
    v1::TaskUpdate u;
    u.set_task_id(t.id());
    u.set_state(absl::Bernoulli(gen, 0.2) ? v1::TASK_DONE : v1::TASK_RUNNING);
    u.set_verified(true);
    v1::TaskProgress* p = u.mutable_progress();
    p->set_users_done(absl::Uniform<uint64_t>(gen, 0, 40));
    p->set_users_total(absl::Bernoulli(gen, 0.5) ? 0 : absl::Uniform<uint64_t>(gen, 0, 40));
    p->set_files_done(absl::Uniform<uint64_t>(gen, 0, 5000));
    p->set_files_total(absl::Bernoulli(gen, 0.5) ? 0 : absl::Uniform<uint64_t>(gen, 0, 5000));
    p->set_bytes_done(absl::Uniform<uint64_t>(gen, 0, 1u << 30));
    p->set_bytes_total(absl::Bernoulli(gen, 0.5) ? 0 : absl::Uniform<uint64_t>(gen, 0, 1u << 30));
    return u;
  }

  // One random step of the sequence; returns what it did.
  std::string RandomStep(absl::BitGen& gen, const std::vector<std::string>& hosts) {
    const std::string host = hosts[absl::Uniform<size_t>(gen, 0, hosts.size())];
    const int64_t skew = host == "imap2" ? -kSixHours : (host == "imap3" ? 90'000 : 0);
    switch (absl::Uniform(gen, 0, 6)) {
      case 0:
      case 1: {
        std::map<std::string, uint64_t> users;
        for (const char* s : {"s01", "s02", "s03", "s04"}) users[s] = absl::Uniform(gen, 0, 30);
        std::vector<v1::Condition> conditions;
        if (absl::Bernoulli(gen, 0.05)) {
          conditions.push_back(FsCondition(v1::READ_ONLY, "/srv/du2"));
        }
        ReportAs(host, skew, users, absl::Uniform<int64_t>(gen, 0, 60'000),
                 absl::Bernoulli(gen, 0.8), conditions)
            .IgnoreError();  // a host declared down may be refused; not a view
        return absl::StrCat("report from ", host);
      }
      case 2: {
        const auto tasks = coord_->queries().ListTasks({});
        for (const v1::TaskInfo& t : tasks.tasks()) {
          if (t.state() != v1::TASK_RUNNING) continue;
          coord_->ApplyTaskUpdate(t.target().host(), RandomProgress(gen, t)).IgnoreError();
          return absl::StrCat("progress of ", t.id());
        }
        return "no running task";
      }
      case 3:
        AckAll(host);
        return absl::StrCat("acks from ", host);
      case 4:
        if (absl::Bernoulli(gen, 0.1)) {
          MarkLost(host, absl::Bernoulli(gen, 0.5) ? "du1" : "du2").IgnoreError();
          return absl::StrCat("mark lost on ", host);
        }
        [[fallthrough]];
      default:
        clock_.Advance(absl::Milliseconds(absl::Uniform(gen, 0, 20'000)));
        coord_->Tick().IgnoreError();
        return "tick";
    }
  }
};

TEST_P(TruthfulViewsPropertyTest, EveryViewStaysTrueUnderRandomSequences) {
  const std::vector<std::string> hosts = {"imap1", "imap2", "imap3", "imap4", "imap5"};
  for (const std::string& h : hosts) RegisterHost(MakeInventory(h));
  for (int i = 1; i <= 3; ++i) {
    v1::CreateStoreRequest req;
    req.set_store(absl::StrCat("st", i));
    // The master on a slot the earlier stores' replicas left spare.
    auto host = coord_->queries().GetHost(hosts[i - 1]);
    ASSERT_TRUE(host.ok());
    for (const v1::SlotInfo& slot : host->slots()) {
      if (slot.role() == v1::SLOT_SPARE) {
        *req.mutable_master() = slot.ref();
        break;
      }
    }
    req.set_copies(3);
    auto created = slotmgr::CreateStore(*coord_, req);
    ASSERT_TRUE(created.ok()) << created.status();
  }
  std::seed_seq seed{GetParam()};
  absl::BitGen gen(seed);
  for (int step = 0; step < 300; ++step) {
    const std::string what = RandomStep(gen, hosts);
    CheckViews(absl::StrCat("seed ", GetParam(), " step ", step, ": ", what));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, TruthfulViewsPropertyTest, ::testing::Range(1, 21));

}  // namespace
}  // namespace slotkeeper::slotmgr
