#include "tools/slotctl/test_cluster.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace slotkeeper::slotctl {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

v1::SlotRef Ref(const std::string& host, const std::string& slot) {
  v1::SlotRef ref;
  ref.set_host(host);
  ref.set_slot(slot);
  return ref;
}

v1::Copy MakeCopy(const std::string& host, const std::string& slot, v1::SlotRole role, bool usable,
                  bool in_sync, int64_t lag_ms, const std::string& why = "") {
  v1::Copy c;
  *c.mutable_slot() = Ref(host, slot);
  c.set_role(role);
  c.set_usable(usable);
  c.set_in_sync(in_sync);
  c.set_lag_ms(lag_ms);
  c.set_unusable_reason(why);
  return c;
}

v1::HostInfo MakeHost(const std::string& name, int64_t now_ms) {
  v1::HostInfo h;
  h.set_name(name);
  h.set_state(v1::HOST_UP);
  h.set_state_since_ms(now_ms - 48 * kHour);
  h.set_last_heard_ms(now_ms - 2'000);
  h.set_peer_address(name + ":7400");
  h.set_agent_version("0.1.0");
  h.set_clock_offset_ms(3);
  v1::UnitInfo* u = h.add_units();
  u->set_name("du1");
  u->add_devices("sdb");
  u->set_state(v1::UNIT_ONLINE);
  v1::FilesystemInfo* f = h.add_filesystems();
  f->set_mount_point("/srv/mail1");
  f->set_unit("du1");
  f->set_state(v1::FS_OK);
  f->set_total_bytes(4ull << 40);
  f->set_free_bytes(1ull << 40);
  f->set_free_inodes(1'000'000);
  return h;
}

v1::SlotInfo* AddSlot(v1::HostInfo* h, const std::string& slot, const std::string& fs,
                      v1::SlotRole role, const std::string& store, bool usable) {
  v1::SlotInfo* s = h->add_slots();
  *s->mutable_ref() = Ref(h->name(), slot);
  s->set_path(fs + "/" + slot);
  s->set_filesystem(fs);
  s->set_capacity_bytes(500ull << 30);
  s->set_used_bytes(store.empty() ? 0 : 120ull << 30);
  s->set_service_address(h->name() + ":1" + slot.substr(1));
  s->set_role(role);
  s->set_store(store);
  s->set_usable(usable);
  if (!usable) s->set_unusable_reason("filesystem /srv/mail2 read-only");
  return s;
}

}  // namespace

FakeCluster OutageCluster(int64_t now_ms) {
  FakeCluster c;
  for (const char* name : {"imap1", "imap2", "imap3", "imap4"})
    c.hosts.push_back(MakeHost(name, now_ms));
  v1::HostInfo& imap1 = c.hosts[0];
  v1::HostInfo& imap2 = c.hosts[1];
  v1::HostInfo& imap3 = c.hosts[2];
  v1::HostInfo& imap4 = c.hosts[3];
  AddSlot(&imap1, "s01", "/srv/mail1", v1::SLOT_REPLICA, "st1", true);
  AddSlot(&imap1, "s02", "/srv/mail1", v1::SLOT_REPLICA, "st2", true);
  AddSlot(&imap1, "s05", "/srv/mail1", v1::SLOT_SEEDING, "st3", true);
  AddSlot(&imap2, "s01", "/srv/mail1", v1::SLOT_REPLICA, "st1", true);
  AddSlot(&imap2, "s03", "/srv/mail1", v1::SLOT_MASTER, "st3", true);
  AddSlot(&imap2, "s09", "/srv/mail1", v1::SLOT_SPARE, "", true);
  AddSlot(&imap3, "s02", "/srv/mail1", v1::SLOT_REPLICA, "st2", true);
  AddSlot(&imap3, "s09", "/srv/mail1", v1::SLOT_SPARE, "", true);
  imap3.set_clock_offset_ms(-21'600'000);  // set back 6 hours
  imap3.set_clock_skewed(true);
  v1::Condition* skew = imap3.add_conditions();
  skew->set_type(v1::CLOCK_SKEW);
  skew->set_subject_kind(v1::SUBJECT_HOST);
  skew->set_reason("clock 6h behind the coordinator");
  skew->set_since_ms(now_ms - 30 * kMinute);

  // imap4: du2 failed two hours ago; its filesystem went read-only.
  v1::UnitInfo* du2 = imap4.add_units();
  du2->set_name("du2");
  du2->add_devices("sdc");
  du2->set_state(v1::UNIT_FAILED);
  du2->set_failed_since_ms(now_ms - 2 * kHour);
  du2->set_replace_at_ms(now_ms + 4 * kHour);
  v1::FilesystemInfo* fs2 = imap4.add_filesystems();
  fs2->set_mount_point("/srv/mail2");
  fs2->set_unit("du2");
  fs2->set_state(v1::FS_READ_ONLY);
  fs2->set_total_bytes(4ull << 40);
  v1::SlotInfo* master = AddSlot(&imap4, "s01", "/srv/mail1", v1::SLOT_MASTER, "st1", true);
  master->set_lease_valid_until_ms(now_ms + 8'000);
  AddSlot(&imap4, "s02", "/srv/mail2", v1::SLOT_MASTER, "st2", false)
      ->set_lease_valid_until_ms(now_ms - 90 * kMinute);
  AddSlot(&imap4, "s03", "/srv/mail2", v1::SLOT_REPLICA, "st3", false);
  v1::Condition* ro = imap4.add_conditions();
  ro->set_type(v1::READ_ONLY);
  ro->set_subject_kind(v1::SUBJECT_FILESYSTEM);
  ro->set_subject("/srv/mail2");
  ro->set_reason("EXT4-fs (sdc1): Remounting filesystem read-only");
  ro->set_since_ms(now_ms - 2 * kHour);
  ro->set_hard(true);
  v1::Condition* off = imap4.add_conditions();
  off->set_type(v1::UNIT_OFFLINE);
  off->set_subject_kind(v1::SUBJECT_UNIT);
  off->set_subject("du2");
  off->set_reason("/sys/block/sdc/device/state is \"offline\"");
  off->set_since_ms(now_ms - 2 * kHour);
  off->set_hard(true);

  v1::StoreInfo st1;
  st1.set_name("st1");
  st1.set_state(v1::STORE_HEALTHY);
  st1.set_required_copies(3);
  st1.set_master_epoch(4);
  st1.set_user_count(1200);
  st1.set_used_bytes(120ull << 30);
  *st1.add_copies() = MakeCopy("imap4", "s01", v1::SLOT_MASTER, true, true, 0);
  *st1.add_copies() = MakeCopy("imap1", "s01", v1::SLOT_REPLICA, true, true, 800);
  *st1.add_copies() = MakeCopy("imap2", "s01", v1::SLOT_REPLICA, true, true, 1200);
  v1::StoreInfo st2;
  st2.set_name("st2");
  st2.set_state(v1::STORE_NO_MASTER);
  st2.set_required_copies(3);
  st2.set_master_epoch(7);
  st2.set_user_count(950);
  st2.set_used_bytes(100ull << 30);
  st2.set_master_unusable_since_ms(now_ms - 2 * kHour);
  st2.set_note("waiting for the old master's lease to expire");
  *st2.add_copies() =
      MakeCopy("imap4", "s02", v1::SLOT_MASTER, false, false, 0, "filesystem /srv/mail2 read-only");
  *st2.add_copies() = MakeCopy("imap1", "s02", v1::SLOT_REPLICA, true, true, 900);
  *st2.add_copies() = MakeCopy("imap3", "s02", v1::SLOT_REPLICA, true, false, 5 * kMinute);
  v1::StoreInfo st3;
  st3.set_name("st3");
  st3.set_state(v1::STORE_DEGRADED);
  st3.set_required_copies(3);
  st3.set_master_epoch(2);
  st3.set_user_count(1000);
  st3.set_used_bytes(110ull << 30);
  st3.set_note("re-replicating to imap1/s05");
  *st3.add_copies() = MakeCopy("imap2", "s03", v1::SLOT_MASTER, true, true, 0);
  *st3.add_copies() = MakeCopy("imap4", "s03", v1::SLOT_REPLICA, false, false, 2 * kHour,
                               "filesystem /srv/mail2 read-only");
  *st3.add_copies() = MakeCopy("imap1", "s05", v1::SLOT_SEEDING, true, false, 0);
  c.stores = {st1, st2, st3};

  v1::TaskInfo t1;
  t1.set_id("t-17");
  t1.set_kind(v1::TASK_RE_REPLICATE);
  t1.set_state(v1::TASK_RUNNING);
  t1.set_store("st3");
  *t1.mutable_source() = Ref("imap2", "s03");
  *t1.mutable_target() = Ref("imap1", "s05");
  t1.set_priority(50);
  t1.mutable_progress()->set_users_done(400);
  t1.mutable_progress()->set_users_total(1000);
  t1.mutable_progress()->set_bytes_done(44ull << 30);
  t1.mutable_progress()->set_bytes_total(110ull << 30);
  t1.mutable_progress()->set_bytes_per_second(25.0 * (1 << 20));
  t1.set_attempts(1);
  v1::TaskInfo t2 = t1;
  t2.set_id("t-18");
  t2.set_state(v1::TASK_BACKOFF);
  t2.set_store("st2");
  t2.set_last_error("source imap4/s02 read-only");
  t2.set_next_attempt_ms(now_ms + 2 * kMinute);
  v1::TaskInfo t3 = t1;
  t3.set_id("t-09");
  t3.set_kind(v1::TASK_CATCH_UP);
  t3.set_state(v1::TASK_DONE);
  t3.set_store("st1");
  c.tasks = {t1, t2, t3};

  c.events = DriveUnitOutageJournal(now_ms - 2 * kHour - kMinute);

  v1::UserLocation alice;
  alice.set_user("alice");
  alice.set_store("st1");
  alice.set_master_epoch(4);
  *alice.mutable_master()->mutable_slot() = Ref("imap4", "s01");
  alice.mutable_master()->set_service_address("imap4:1001");
  alice.mutable_master()->set_usable(true);
  v1::Endpoint* rep = alice.add_replicas();
  *rep->mutable_slot() = Ref("imap1", "s01");
  rep->set_service_address("imap1:1001");
  rep->set_usable(true);
  c.users["alice"] = alice;

  c.automation.set_mode(v1::AUTOMATION_RUNNING);
  c.automation.set_failover_limit(5);
  c.automation.set_recent_failovers(1);

  v1::ConsistencyProblem* p = c.consistency.add_problems();
  p->set_severity("error");
  p->set_store("st2");
  p->set_text("no usable master");
  p = c.consistency.add_problems();
  p->set_severity("warning");
  p->set_store("st2");
  p->set_host("imap3");
  p->set_slot("s02");
  p->set_text("replica lag 5m exceeds 1m");
  c.consistency.set_stores_checked(3);

  v1::ClusterStatus& s = c.status;
  s.set_coordinator_time_ms(now_ms);
  v1::HostStateCount* up = s.add_hosts_by_state();
  up->set_state(v1::HOST_UP);
  up->set_count(4);
  s.set_stores_total(3);
  s.set_stores_healthy(1);
  *s.add_troubled_hosts() = imap3;
  *s.add_troubled_hosts() = imap4;
  *s.add_troubled_stores() = st2;
  *s.add_troubled_stores() = st3;
  s.mutable_recovery()->set_stores_recovering(1);
  s.mutable_recovery()->set_tasks_running(1);
  s.mutable_recovery()->set_tasks_queued(1);
  s.mutable_recovery()->set_users_done(400);
  s.mutable_recovery()->set_users_total(1000);
  s.mutable_recovery()->set_bytes_done(44ull << 30);
  s.mutable_recovery()->set_bytes_total(110ull << 30);
  s.mutable_recovery()->set_bytes_per_second(25.0 * (1 << 20));
  s.mutable_recovery()->set_eta_ms(75 * kMinute);
  *s.mutable_automation() = c.automation;
  s.set_slots_master(3);
  s.set_slots_replica(5);
  s.set_slots_seeding(1);
  s.set_slots_spare(2);
  return c;
}

namespace {

v1::Copy* FindCopy(FakeCluster& c, const std::string& store, const std::string& slot) {
  for (v1::Copy& copy : *c.FindStore(store)->mutable_copies()) {
    if (absl::StrCat(copy.slot().host(), "/", copy.slot().slot()) == slot) return &copy;
  }
  return nullptr;
}

v1::QuarantineItem Item(const std::string& id, const std::string& user, const std::string& path,
                        uint64_t size, int64_t quarantined_ms, const std::string& reason) {
  v1::QuarantineItem item;
  item.set_id(id);
  item.set_user(user);
  item.set_path(path);
  item.set_size(size);
  item.set_quarantined_ms(quarantined_ms);
  item.set_reason(reason);
  const size_t slash = path.rfind('/');
  const std::string name = path.substr(slash + 1);
  item.set_maildir_key(name.substr(0, name.find(':')));
  item.set_hash(std::string("\x01\x23\x45\x67", 4));
  return item;
}

v1::StrandedMessage Stranded(const std::string& user, const v1::QuarantineItem& kept) {
  v1::StrandedMessage m;
  m.set_user(user);
  m.set_maildir_key(kept.maildir_key());
  m.set_quarantine_id(kept.id());
  m.set_size(kept.size());
  return m;
}

}  // namespace

FakeCluster DataSafetyCluster(int64_t now_ms) {
  FakeCluster c = OutageCluster(now_ms);
  const int64_t agent_now = now_ms + 3;  // imap1, imap2 and imap4 are 3ms ahead
  constexpr int64_t kDay = 24 * kHour;

  v1::Copy* blocked = FindCopy(c, "st1", "imap1/s01");
  blocked->add_blocked_users("bob");
  blocked->set_in_sync(false);
  blocked->set_out_of_sync_reason("mass-deletion guard stopped user bob");
  blocked->set_quarantine_items(3);
  blocked->set_quarantine_bytes(20480);
  c.quarantine["imap1/s01"] = {
      Item("2027-01-14/alice/cur/1700000001.M1P1.imap4:2,S", "alice",
           "cur/1700000001.M1P1.imap4:2,S", 12288, agent_now - 20 * kHour, "removed"),
      Item("2027-01-10/bob/cur/1700000002.M2P1.imap4:2,S", "bob", "cur/1700000002.M2P1.imap4:2,S",
           4096, agent_now - 5 * kDay, "removed"),
      Item("2027-01-11/bob/cur/1700000002.M2P1.imap4:2,S.1", "bob", "cur/1700000002.M2P1.imap4:2,S",
           4096, agent_now - 4 * kDay, "overwritten")};
  v1::Copy* scrubbed = FindCopy(c, "st1", "imap2/s01");
  scrubbed->set_scrub_last_full_pass_ms(now_ms - 2 * kDay);  // the coordinator's clock
  scrubbed->set_scrub_last_full_pass_agent_ms(agent_now - 2 * kDay);
  scrubbed->set_scrub_pass_fraction(0.45);
  scrubbed->set_scrub_corrupt_found(2);
  scrubbed->set_quarantine_items(1);
  scrubbed->set_quarantine_bytes(2048);
  c.quarantine["imap2/s01"] = {Item("2027-01-13/alice/cur/1700000003.M3P1.imap4:2,S", "alice",
                                    "cur/1700000003.M3P1.imap4:2,S", 2048, agent_now - 2 * kDay,
                                    "corrupt")};

  const v1::QuarantineItem dave_removed =
      Item("2027-01-14/dave/cur/1700000004.M4P1.imap4:2,S", "dave", "cur/1700000004.M4P1.imap4:2,S",
           1024, agent_now - 3 * kHour, "removed");
  const v1::QuarantineItem dave_stranded =
      Item("2027-01-15/dave/new/1700000005.M5P1.imap4", "dave", "new/1700000005.M5P1.imap4", 3072,
           agent_now - kHour, "stranded");
  c.quarantine["imap1/s02"] = {dave_removed, dave_stranded};
  c.stranded["imap1/s02"] = {Stranded("dave", dave_stranded)};
  FindCopy(c, "st2", "imap1/s02")->set_stranded_messages(1);
  FindCopy(c, "st2", "imap3/s02")->set_stranded_messages(1);
  c.agent_errors["imap3/s02"] = "deadline exceeded";

  const std::vector<v1::QuarantineItem> carol = {
      Item("2027-01-15/carol/new/1700000006.M6P1.imap4", "carol", "new/1700000006.M6P1.imap4", 8192,
           agent_now - kHour, "stranded"),
      Item("2027-01-15/carol/new/1700000007.M7P1.imap4", "carol", "new/1700000007.M7P1.imap4", 8192,
           agent_now - kHour, "stranded")};
  c.quarantine["imap4/s03"] = carol;
  c.stranded["imap4/s03"] = {Stranded("carol", carol[0]), Stranded("carol", carol[1])};
  FindCopy(c, "st3", "imap4/s03")->set_stranded_messages(2);
  FindCopy(c, "st3", "imap1/s05")->set_identity_changed(true);

  v1::UserLocation bob = c.users["alice"];
  bob.set_user("bob");
  c.users["bob"] = bob;
  v1::Event guard;
  guard.set_seq(200);
  guard.set_time_ms(now_ms - 30 * kMinute);
  guard.set_kind("replication.blocked");
  guard.set_severity(v1::WARNING);
  guard.set_host("imap1");
  guard.set_slot("s01");
  guard.set_store("st1");
  guard.set_text(
      "sync of user bob of store st1 into imap1/s01 stopped by the mass-deletion guard: the "
      "source lost most of its mail; the replica keeps it. Check the master before anything else");
  c.events.push_back(guard);
  return c;
}

std::vector<v1::Event> DriveUnitOutageJournal(int64_t t) {
  struct Row {
    int64_t offset_ms;
    const char* kind;
    v1::EventSeverity severity;
    const char* host;
    const char* unit;
    const char* slot;
    const char* store;
    const char* task;
    const char* text;
  };
  // Kinds, severities and texts as slotmgr's coordinator writes them.
  const Row rows[] = {
      {0, "host.reregistered", v1::INFO, "imap4", "", "", "", "", "host imap4 re-registered"},
      {60'000, "unit.failed", v1::CRITICAL, "imap4", "du2", "", "", "",
       "drive unit imap4/du2 failed: UNIT_OFFLINE on du2 (sdc offline)"},
      {61'000, "filesystem.state", v1::CRITICAL, "imap4", "du2", "", "", "",
       "filesystem /srv/mail2 on imap4: FS_OK -> FS_READ_ONLY"},
      {62'000, "store.state", v1::CRITICAL, "", "", "", "st2", "",
       "store st2: STORE_HEALTHY -> STORE_NO_MASTER (master imap4/s02 unusable)"},
      {62'500, "store.state", v1::WARNING, "", "", "", "st3", "",
       "store st3: STORE_HEALTHY -> STORE_DEGRADED"},
      {63'000, "command.queued", v1::INFO, "imap1", "", "s05", "st3", "",
       "command 77 to imap1: prepare seeding"},
      {63'500, "task.created", v1::INFO, "imap1", "", "s05", "st3", "t-17",
       "task t-17: copy st3 from imap2/s03 to imap1/s05 (replaces imap4/s03)"},
      {64'000, "task.started", v1::INFO, "imap1", "", "s05", "st3", "t-17",
       "task t-17 started (attempt 1)"},
      {92'000, "store.failover", v1::CRITICAL, "imap1", "", "s02", "st2", "",
       "store st2: master imap4/s02 -> imap1/s02, epoch 8 (filesystem read-only, automatic)"},
      {95'000, "store.failover", v1::CRITICAL, "imap2", "", "s07", "st5", "",
       "store st5: master imap4/s04 -> imap2/s07, epoch 3 (filesystem read-only, automatic)"},
      {96'000, "store.failover_refused", v1::WARNING, "", "", "", "st6", "",
       "store st6: no replica in sync"},
      {30 * 60'000, "task.done", v1::INFO, "imap3", "", "s06", "st5", "t-19",
       "task t-19 done and verified: imap3/s06 is a replica of st5"},
      {30 * 60'000 + 1'000, "copy.dropped", v1::INFO, "imap4", "", "s04", "st5", "t-19",
       "lost copy imap4/s04 dropped from st5 (replaced by imap3/s06)"},
      {30 * 60'000 + 2'000, "store.state", v1::INFO, "", "", "", "st5", "",
       "store st5: STORE_DEGRADED -> STORE_HEALTHY"},
  };
  std::vector<v1::Event> events;
  uint64_t seq = 100;
  for (const Row& r : rows) {
    v1::Event e;
    e.set_seq(++seq);
    e.set_time_ms(t + r.offset_ms);
    e.set_kind(r.kind);
    e.set_severity(r.severity);
    e.set_host(r.host);
    e.set_unit(r.unit);
    e.set_slot(r.slot);
    e.set_store(r.store);
    e.set_task(r.task);
    e.set_text(r.text);
    events.push_back(e);
  }
  return events;
}

bool IsJsonObject(const std::string& text) {
  google::protobuf::Struct parsed;
  return google::protobuf::util::JsonStringToMessage(text, &parsed).ok();
}

RunResult Harness::Run(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::ostringstream out, err;
  std::istringstream in(stdin_text);
  Environment env;
  env.out = &out;
  env.err = &err;
  env.in = &in;
  env.clock = clock_;
  env.stdout_is_terminal = terminal;
  env.no_color = no_color;
  env.server_from_env = server_from_env;
  env.user = user;
  connected_server.clear();
  env.sleep = [this](absl::Duration d) { slept.push_back(d); };
  env.connect = [this](const std::string& server,
                       absl::Duration timeout) -> std::unique_ptr<ClusterClient> {
    connected_server = server;
    connected_timeout = timeout;
    return std::make_unique<FakeClusterClient>(cluster_);
  };
  RunResult result;
  result.code = RunSlotctl(args, env);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace slotkeeper::slotctl
