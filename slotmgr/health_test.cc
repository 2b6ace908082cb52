// DeriveHealth from literal cases: each row changes one thing in a healthy
// three-host cluster and states what the coordinator must conclude.
#include "slotmgr/health.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/slot_ref.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'800'000'000'000;

using testing::Ref;

// imap1..imap3, each with units du1 (/srv/du1, slot s01) and du2 (/srv/du2,
// slot s02). Store st1: master imap1/s01, replicas imap2/s01 and imap3/s01.
ClusterModel Cluster() {
  ClusterModel m;
  for (const char* name : {"imap1", "imap2", "imap3"}) {
    v1::HostInfo* h = m.hosts[name].mutable_info();
    h->set_name(name);
    h->set_state(v1::HOST_UP);
    for (int u = 1; u <= 2; ++u) {
      v1::UnitInfo* unit = h->add_units();
      unit->set_name(absl::StrCat("du", u));
      unit->set_state(v1::UNIT_ONLINE);
      v1::FilesystemInfo* fs = h->add_filesystems();
      fs->set_mount_point(absl::StrCat("/srv/du", u));
      fs->set_unit(unit->name());
      fs->set_state(v1::FS_OK);
      v1::SlotInfo* s = h->add_slots();
      *s->mutable_ref() = Ref(name, absl::StrCat("s0", u));
      s->set_filesystem(fs->mount_point());
      s->set_role(v1::SLOT_SPARE);
      s->set_usable(true);
    }
  }
  v1::StoreInfo* st = m.stores["st1"].mutable_info();
  st->set_name("st1");
  st->set_required_copies(3);
  st->set_master_epoch(1);
  st->set_state(v1::STORE_HEALTHY);
  for (const char* name : {"imap1", "imap2", "imap3"}) {
    v1::Copy* c = st->add_copies();
    *c->mutable_slot() = Ref(name, "s01");
    c->set_role(std::string(name) == "imap1" ? v1::SLOT_MASTER : v1::SLOT_REPLICA);
    c->set_usable(true);
    c->set_in_sync(true);
    v1::SlotInfo* s = m.hosts[name].mutable_info()->mutable_slots(0);
    s->set_role(c->role());
    s->set_store("st1");
    // The master's agent holds its lease.
    s->set_serving(c->role() == v1::SLOT_MASTER);
    c->set_serving(s->serving());
  }
  return m;
}

v1::Condition Cond(v1::ConditionType type, v1::SubjectKind kind, const std::string& subject) {
  v1::Condition c;
  c.set_type(type);
  c.set_subject_kind(kind);
  c.set_subject(subject);
  c.set_reason("test");
  return c;
}

void AddCondition(ClusterModel& m, const std::string& host, v1::Condition c) {
  *m.hosts[host].mutable_info()->add_conditions() = std::move(c);
}

v1::SlotInfo& Slot(ClusterModel& m, const std::string& host, int index) {
  return *m.hosts[host].mutable_info()->mutable_slots(index);
}

struct Case {
  std::string name;
  std::function<void(ClusterModel&, LeaseTable&)> change;
  // What DeriveHealth must conclude.
  std::vector<std::string> events;  // kinds, in order
  v1::StoreState store_state;
  std::string note;  // substring of the store's note ("" : empty note)
  bool master_unusable_since_now;
  bool master_hard_since_now;
  std::function<void(const ClusterModel&)> more = nullptr;
};

// The cases, one row each: long because it is a table, not logic.
const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      {"nothing changed",
       [](ClusterModel&, LeaseTable&) {},
       {},
       v1::STORE_HEALTHY,
       "",
       false,
       false},
      {"the master's agent holds no lease (restarted, or fenced)",
       [](ClusterModel& m, LeaseTable&) { Slot(m, "imap1", 0).set_serving(false); },
       {"store.state"},
       v1::STORE_NO_MASTER,
       "master not serving",
       false,
       false,
       [](const ClusterModel& m) {
         EXPECT_TRUE(m.stores.at("st1").info().copies(0).usable());
         EXPECT_FALSE(m.stores.at("st1").info().copies(0).serving());
       }},
      {"read-only filesystem under the master",
       [](ClusterModel& m, LeaseTable&) {
         AddCondition(m, "imap1", Cond(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, "/srv/du1"));
       },
       // Every filesystem of du1 failed, so du1 failed too.
       {"filesystem.state", "unit.failed", "slot.unusable", "store.state"},
       v1::STORE_NO_MASTER,
       "master unusable",
       true,
       true,
       [](const ClusterModel& m) {
         const v1::HostInfo& h = m.hosts.at("imap1").info();
         EXPECT_EQ(h.filesystems(0).state(), v1::FS_READ_ONLY);
         EXPECT_EQ(h.units(0).state(), v1::UNIT_FAILED);
         EXPECT_EQ(h.units(0).failed_since_ms(), kNow);
         EXPECT_EQ(h.units(0).replace_at_ms(), kNow + CoordinatorConfig().replace_after_ms);
         EXPECT_EQ(h.slots(0).unusable_reason(), "drive unit failed");
         EXPECT_FALSE(m.stores.at("st1").info().copies(0).usable());
       }},
      {"a kernel error line is soft",
       [](ClusterModel& m, LeaseTable&) {
         AddCondition(m, "imap1", Cond(v1::KERNEL_ERROR, v1::SUBJECT_UNIT, "du1"));
       },
       {},
       v1::STORE_HEALTHY,
       "",
       false,
       false},
      {"a spare's unit goes offline",
       [](ClusterModel& m, LeaseTable&) {
         AddCondition(m, "imap2", Cond(v1::UNIT_OFFLINE, v1::SUBJECT_UNIT, "du2"));
       },
       {"unit.failed", "slot.unusable"},
       v1::STORE_HEALTHY,
       "",
       false,
       false},
      {"a hard condition on one slot",
       [](ClusterModel& m, LeaseTable&) {
         AddCondition(m, "imap3", Cond(v1::IO_ERROR, v1::SUBJECT_SLOT, "s01"));
       },
       {"slot.unusable", "store.state"},
       v1::STORE_DEGRADED,
       "2 of 3 copies usable",
       false,
       false,
       [](const ClusterModel& m) {
         EXPECT_EQ(m.hosts.at("imap3").info().slots(0).unusable_reason(), "test");
       }},
      {"a replica's host is down",
       [](ClusterModel& m, LeaseTable&) {
         m.hosts["imap2"].mutable_info()->set_state(v1::HOST_DOWN);
       },
       {"slot.unusable", "slot.unusable", "store.state"},
       v1::STORE_DEGRADED,
       "2 of 3 copies usable",
       false,
       false},
      {"the master's host is down: silence, not hard evidence",
       [](ClusterModel& m, LeaseTable&) {
         m.hosts["imap1"].mutable_info()->set_state(v1::HOST_DOWN);
       },
       {"slot.unusable", "slot.unusable", "store.state"},
       v1::STORE_NO_MASTER,
       "master unusable",
       true,
       false},
      {"nothing to promote",
       [](ClusterModel& m, LeaseTable&) {
         AddCondition(m, "imap1", Cond(v1::IO_ERROR, v1::SUBJECT_SLOT, "s01"));
         m.hosts["imap2"].mutable_info()->set_state(v1::HOST_DOWN);
         m.hosts["imap3"].mutable_info()->set_state(v1::HOST_DOWN);
       },
       {"slot.unusable", "slot.unusable", "slot.unusable", "slot.unusable", "slot.unusable",
        "store.state"},
       v1::STORE_UNAVAILABLE,
       "master unusable, still serving on its lease: no replica of st1 can be promoted",
       true,
       true},
      {"a master declared lost counts as hard evidence",
       [](ClusterModel& m, LeaseTable&) {
         Slot(m, "imap1", 0).set_role(v1::SLOT_LOST);
         m.hosts["imap1"].mutable_info()->mutable_units(0)->set_state(v1::UNIT_LOST);
       },
       {"slot.unusable", "store.state"},
       v1::STORE_NO_MASTER,
       "no master",
       true,
       true},
      {"a slot missing from the inventory stays unusable",
       [](ClusterModel& m, LeaseTable&) {
         v1::SlotInfo& s = Slot(m, "imap2", 0);
         s.set_missing_from_inventory(true);
         s.set_usable(false);
         s.set_unusable_reason("missing from the agent's inventory");
       },
       {"store.state"},
       v1::STORE_DEGRADED,
       "2 of 3 copies usable",
       false,
       false,
       [](const ClusterModel& m) {
         EXPECT_EQ(m.stores.at("st1").info().copies(1).unusable_reason(),
                   "missing from the agent's inventory");
       }},
      {"lease bounds are shown, not journaled",
       [](ClusterModel&, LeaseTable& leases) { leases.Grant("imap1/s01", kNow + 20'000); },
       {},
       v1::STORE_HEALTHY,
       "",
       false,
       false,
       [](const ClusterModel& m) {
         EXPECT_EQ(m.hosts.at("imap1").info().slots(0).lease_valid_until_ms(), kNow + 20'000);
         EXPECT_EQ(m.hosts.at("imap2").info().slots(0).lease_valid_until_ms(), 0);
       }},
  };
  return *cases;
}

TEST(DeriveHealthTest, Table) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    ClusterModel model = Cluster();
    LeaseTable leases;
    c.change(model, leases);
    HealthChanges out = DeriveHealth(model, leases, {}, {kNow, kNow}, CoordinatorConfig());
    EXPECT_TRUE(out.view_status.ok()) << out.view_status;
    std::vector<std::string> kinds;
    for (const v1::Event& e : out.events) kinds.push_back(e.kind());
    EXPECT_THAT(kinds, ElementsAreArray(c.events));
    const StoreRecord& st = model.stores.at("st1");
    EXPECT_EQ(st.info().state(), c.store_state) << model::Name(st.info().state());
    if (c.note.empty()) {
      EXPECT_THAT(st.info().note(), IsEmpty());
    } else {
      EXPECT_THAT(st.info().note(), HasSubstr(c.note));
    }
    EXPECT_EQ(st.info().master_unusable_since_ms(), c.master_unusable_since_now ? kNow : 0);
    EXPECT_EQ(st.master_hard_since_ms(), c.master_hard_since_now ? kNow : 0);
    EXPECT_EQ(out.stores.count("st1") > 0,
              c.store_state != v1::STORE_HEALTHY || c.master_unusable_since_now)
        << "a changed store is noted for the commit";
    if (c.more) c.more(model);
    // Derived again with nothing new: nothing changes.
    HealthChanges again =
        DeriveHealth(model, leases, {}, {kNow + 1000, kNow + 1000}, CoordinatorConfig());
    EXPECT_THAT(again.events, IsEmpty());
    EXPECT_THAT(again.hosts, IsEmpty());
  }
}

TEST(DeriveHealthTest, EventsSayWhatChanged) {
  ClusterModel model = Cluster();
  AddCondition(model, "imap1", Cond(v1::IO_ERROR, v1::SUBJECT_FILESYSTEM, "/srv/du1"));
  HealthChanges out = DeriveHealth(model, LeaseTable(), {}, {kNow, kNow}, CoordinatorConfig());
  ASSERT_EQ(out.events.size(), 4u);
  EXPECT_EQ(out.events[0].text(), "filesystem /srv/du1 on imap1: ok -> io-error");
  EXPECT_EQ(out.events[0].severity(), v1::CRITICAL);
  EXPECT_EQ(out.events[0].unit(), "du1");
  EXPECT_EQ(out.events[1].text(), "drive unit imap1/du1: online -> failed");
  EXPECT_EQ(out.events[2].text(), "slot imap1/s01 unusable: drive unit failed");
  EXPECT_EQ(out.events[2].store(), "st1");
  EXPECT_THAT(out.events[3].text(), HasSubstr("store st1: healthy -> no-master (master unusable"));
  EXPECT_EQ(out.events[3].store(), "st1");
  EXPECT_THAT(out.hosts, ElementsAreArray({"imap1"}));

  // The evidence clears: everything comes back, and the events say so.
  model.hosts["imap1"].mutable_info()->clear_conditions();
  out = DeriveHealth(model, LeaseTable(), {}, {kNow + 5000, kNow + 5000}, CoordinatorConfig());
  std::vector<std::string> kinds;
  for (const v1::Event& e : out.events) kinds.push_back(e.kind());
  EXPECT_THAT(kinds,
              ElementsAreArray({"filesystem.state", "unit.online", "slot.usable", "store.state"}));
  EXPECT_EQ(out.events[3].severity(), v1::INFO);
  EXPECT_EQ(model.stores.at("st1").info().master_unusable_since_ms(), 0);
}

TEST(DeriveHealthTest, AnInconsistentModelIsReportedAndNothingIsPromotable) {
  ClusterModel model = Cluster();
  Slot(model, "imap2", 0).set_store("other");  // the slot disagrees with st1's copy list
  AddCondition(model, "imap1", Cond(v1::IO_ERROR, v1::SUBJECT_SLOT, "s01"));
  HealthChanges out = DeriveHealth(model, LeaseTable(), {}, {kNow, kNow}, CoordinatorConfig());
  EXPECT_FALSE(out.view_status.ok());
  EXPECT_EQ(model.stores.at("st1").info().state(), v1::STORE_UNAVAILABLE);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
