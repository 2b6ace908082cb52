// The operator CLI against a real cluster: the `slotctl` binary talks to a
// real slotmgrd on 127.0.0.1 and four real agents whose drive units are
// loop-mounted ext4 images, and every verb's output and exit code is checked.
//
// Loop mounts, not plain directories: an agent reports a directory as
// NOT_MOUNTED (it is not in the mount table), its units fail, and no store
// could be created. So the test needs root and skips without it.
//
// The replica that `failover` promotes is a copy the coordinator recognises
// on disk (mailgen writes a store marker into a spare slot), which is how a
// rebuilt coordinator adopts existing copies.
//
// The SlotctlIntegrationTest cases share one cluster and run in the order
// written; each builds on what the previous ones did (stores st1 and st2, a
// failover, a lost unit). SlotctlWithoutClusterTest needs no coordinator
// (usage errors, an unreachable server) and also runs without root.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/loop_fs.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// What one slotctl run printed (stdout and stderr merged) and its exit code.
struct Result {
  int code = -1;
  std::string out;
};

std::string Describe(const std::vector<std::string>& args, const Result& r) {
  return absl::StrCat("slotctl ", absl::StrJoin(args, " "), "\nexit ", r.code, ", output:\n",
                      r.out);
}

// The output's lines, without the trailing empty one.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(absl::StripSuffix(text, "\n"), '\n');
  return lines;
}

// The line of `text` that starts (after indentation) with `first` and also
// contains `second`; empty when none.
std::string LineWith(const std::string& text, const std::string& first,
                     const std::string& second = "") {
  for (const std::string& line : Lines(text)) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), first) &&
        absl::StrContains(line, second)) {
      return line;
    }
  }
  return "";
}

// Parses `text` as one JSON object; fails the test when it is not.
Struct ParseJson(const std::string& text, const std::string& what) {
  Struct parsed;
  google::protobuf::util::Status st = google::protobuf::util::JsonStringToMessage(text, &parsed);
  EXPECT_TRUE(st.ok()) << what << " is not valid JSON (" << st.ToString() << "):\n" << text;
  return parsed;
}

const Value& Field(const Struct& s, const std::string& name) {
  static const Value* const kNull = new Value();
  auto it = s.fields().find(name);
  return it == s.fields().end() ? *kNull : it->second;
}

std::string SlotOf(const Value& slot_ref) {
  return absl::StrCat(Field(slot_ref.struct_value(), "host").string_value(), "/",
                      Field(slot_ref.struct_value(), "slot").string_value());
}

// The copies of store JSON `store` in role `role`, as "HOST/SLOT" each.
std::vector<std::string> CopiesInRole(const Struct& store, const std::string& role) {
  std::vector<std::string> out;
  for (const Value& c : Field(store, "copies").list_value().values()) {
    if (Field(c.struct_value(), "role").string_value() == role) {
      out.push_back(SlotOf(Field(c.struct_value(), "slot")));
    }
  }
  return out;
}

class SlotctlIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (absl::Status can = CanLoopMount(); !can.ok()) {
      *skip_reason_ = absl::StrCat(
          "needs loop-mounted drive units (agents report plain directories as NOT_MOUNTED): ",
          can.message());
      return;
    }
    ClusterOptions options;
    options.root = std::string(std::getenv("TEST_TMPDIR")) + "/slotctl";
    options.hosts = {"imap1", "imap2", "imap3", "imap4"};
    options.units_per_host = 2;
    options.slots_per_unit = 1;
    options.unit_bytes = 128ull << 20;
    options.slot_capacity_bytes = 32ull << 20;
    options.loop_mounts = true;
    options.verbose = true;
    // --replace_after in days: the coordinator takes slotctl's duration
    // grammar (base/duration.h), or the suite would not start.
    options.coordinator_flags = {"--heartbeat=500ms", "--suspect_after=5s", "--down_after=30s",
                                 "--replace_after=1d12h"};
    auto cluster = Cluster::Create(options);
    if (!cluster.ok()) {
      *setup_error_ = cluster.status().ToString();
      return;
    }
    cluster_ = cluster->release();
    absl::Status st = cluster_->StartCoordinator();
    if (st.ok()) st = cluster_->StartAllAgents();
    // Five users on the slot that becomes st1's master.
    if (st.ok()) st = cluster_->GenerateMail("imap1", "du1s1", "st1", 5, 20, 1);
    if (!st.ok()) *setup_error_ = st.ToString();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    if (!skip_reason_->empty()) GTEST_SKIP() << *skip_reason_;
    ASSERT_TRUE(setup_error_->empty()) << "cluster setup failed: " << *setup_error_;
  }

  Cluster& cluster() { return *cluster_; }

  // Runs slotctl against the cluster's coordinator.
  Result Slotctl(const std::vector<std::string>& args) {
    Result r;
    auto code = cluster_->Slotctl(args, &r.out, absl::Seconds(30));
    EXPECT_TRUE(code.ok()) << code.status();
    if (code.ok()) r.code = *code;
    return r;
  }

  // Runs slotctl --json and parses its output as one JSON object;
  // `want_code` -1 accepts 0 or 1.
  Struct SlotctlJson(std::vector<std::string> args, int want_code) {
    args.insert(args.begin(), "--json");
    Result r = Slotctl(args);
    if (want_code < 0) {
      EXPECT_TRUE(r.code == 0 || r.code == 1) << Describe(args, r);
    } else {
      EXPECT_EQ(r.code, want_code) << Describe(args, r);
    }
    return ParseJson(r.out, absl::StrCat("output of slotctl ", absl::StrJoin(args, " ")));
  }

  // Checks the one-line error of a verb about something that does not exist,
  // in words and in JSON.
  void ExpectNotFound(const std::vector<std::string>& args, const std::string& name) {
    Result r = Slotctl(args);
    EXPECT_EQ(r.code, 1) << Describe(args, r);
    EXPECT_EQ(Lines(r.out).size(), 1u) << Describe(args, r);
    EXPECT_TRUE(absl::StrContains(r.out, name)) << Describe(args, r);
    EXPECT_TRUE(absl::StrContains(r.out, "not found")) << Describe(args, r);
    Struct json = SlotctlJson(args, 1);
    const Struct& error = Field(json, "error").struct_value();
    EXPECT_EQ(Field(error, "code").string_value(), "NOT_FOUND") << absl::StrJoin(args, " ");
    EXPECT_TRUE(absl::StrContains(Field(error, "message").string_value(), name));
  }

  static Cluster* cluster_;
  static std::string* const skip_reason_;
  static std::string* const setup_error_;
};

Cluster* SlotctlIntegrationTest::cluster_ = nullptr;
std::string* const SlotctlIntegrationTest::skip_reason_ = new std::string();
std::string* const SlotctlIntegrationTest::setup_error_ = new std::string();

TEST_F(SlotctlIntegrationTest, StatusHostsAndHostOnAFreshCluster) {
  Result status = Slotctl({"status"});
  EXPECT_EQ(status.code, 0) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "NO STORES")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "Hosts: 4 up; 0 draining")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "Slots: 0 master, 0 replica, 0 seeding, 8 spare"))
      << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, cluster().coordinator_address())) << status.out;

  Result hosts = Slotctl({"hosts"});
  EXPECT_EQ(hosts.code, 0) << hosts.out;
  for (const char* h : {"imap1", "imap2", "imap3", "imap4"}) {
    EXPECT_NE(LineWith(hosts.out, h, " up "), "") << h << " not up in:\n" << hosts.out;
  }

  Result host = Slotctl({"host", "imap1"});
  EXPECT_EQ(host.code, 0) << host.out;
  EXPECT_TRUE(absl::StrContains(host.out, "Host imap1: up")) << host.out;
  EXPECT_NE(LineWith(host.out, "du1 ", "online"), "") << host.out;
  EXPECT_NE(LineWith(host.out, "du2 ", "online"), "") << host.out;
  EXPECT_NE(LineWith(host.out, "du1s1", "spare"), "") << host.out;
  EXPECT_TRUE(absl::StrContains(host.out, "Conditions: none")) << host.out;
}

TEST_F(SlotctlIntegrationTest, StoreCreateWithExplicitReplicas) {
  Result create = Slotctl({"store", "create", "st1", "--master", "imap1/du1s1", "--replicas",
                           "imap2/du1s1,imap3/du1s1"});
  ASSERT_EQ(create.code, 0) << create.out;
  EXPECT_TRUE(
      absl::StrContains(create.out, "Created store st1 with master imap1/du1s1; 3 copies required"))
      << create.out;
  EXPECT_NE(LineWith(create.out, "seeding imap2/du1s1"), "") << create.out;
  EXPECT_NE(LineWith(create.out, "seeding imap3/du1s1"), "") << create.out;

  Result store = Slotctl({"store", "st1"});
  EXPECT_EQ(store.code, 0) << store.out;
  EXPECT_TRUE(absl::StrContains(store.out, "Store st1: ")) << store.out;
  EXPECT_TRUE(absl::StrContains(store.out, "master epoch 1")) << store.out;
  EXPECT_NE(LineWith(store.out, "imap1/du1s1", "master"), "") << store.out;
  // The data path seeds the new replicas within moments: either role is right.
  for (const char* replica : {"imap2/du1s1", "imap3/du1s1"}) {
    const std::string line = LineWith(store.out, replica);
    EXPECT_TRUE(absl::StrContains(line, "seeding") || absl::StrContains(line, "replica"))
        << store.out;
  }

  Result stores = Slotctl({"stores"});
  EXPECT_EQ(stores.code, 0) << stores.out;
  EXPECT_NE(LineWith(stores.out, "st1 ", "imap1/du1s1"), "") << stores.out;

  // The seeding tasks exist (running, or already done).
  Result tasks = Slotctl({"tasks", "--all", "--store", "st1"});
  EXPECT_EQ(tasks.code, 0) << tasks.out;
  EXPECT_NE(LineWith(tasks.out, "t", "imap1/du1s1  imap2/du1s1"), "") << tasks.out;
  EXPECT_NE(LineWith(tasks.out, "t", "imap1/du1s1  imap3/du1s1"), "") << tasks.out;
}

TEST_F(SlotctlIntegrationTest, UserShowsWhereTheUserLives) {
  // The agents' slot scan reports users every 2 s.
  Result user;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  do {
    user = Slotctl({"user", "st1-user0001"});
    if (user.code == 0) break;
    absl::SleepFor(absl::Milliseconds(250));
  } while (absl::Now() < deadline);
  ASSERT_EQ(user.code, 0) << user.out;
  EXPECT_TRUE(absl::StrContains(user.out, "User st1-user0001 is in store st1 (master epoch 1)"))
      << user.out;
  EXPECT_NE(LineWith(user.out, "master:", "imap1/du1s1 127.0.0.1:"), "") << user.out;

  Struct json = SlotctlJson({"user", "st1-user0004"}, 0);
  EXPECT_EQ(Field(json, "store").string_value(), "st1");
  EXPECT_EQ(SlotOf(Field(Field(json, "master").struct_value(), "slot")), "imap1/du1s1");
  // The master slot holds five users (st1-user0000..st1-user0004).
  Result store = Slotctl({"store", "st1"});
  EXPECT_TRUE(absl::StrContains(store.out, "5 users")) << store.out;
}

TEST_F(SlotctlIntegrationTest, StoreCreateWithCopiesPlacesReplicasOnOtherHosts) {
  // First a copy of st1 that the coordinator finds on disk in a spare slot.
  // st1 already has its three copies, so the copy is not adopted, and the
  // slot is kept out of placement while it holds that data.
  ASSERT_TRUE(cluster().GenerateMail("imap4", "du1s1", "st1", 5, 20, 1).ok());
  v1::Event notice;
  ASSERT_TRUE(cluster().WaitForEvent("slot.contents_mismatch", absl::Seconds(15), &notice).ok());
  EXPECT_TRUE(absl::StrContains(notice.text(), "imap4/du1s1 holds a copy of st1")) << notice.text();
  EXPECT_TRUE(absl::StrContains(notice.text(), "not adopted")) << notice.text();

  Result create = Slotctl({"store", "create", "st2", "--master", "imap2/du2s1", "--copies", "2"});
  ASSERT_EQ(create.code, 0) << create.out;
  EXPECT_TRUE(
      absl::StrContains(create.out, "Created store st2 with master imap2/du2s1; 2 copies required"))
      << create.out;

  Struct st2 = SlotctlJson({"store", "st2"}, 0);
  EXPECT_EQ(Field(st2, "name").string_value(), "st2");
  EXPECT_EQ(Field(st2, "required_copies").number_value(), 2);
  EXPECT_EQ(CopiesInRole(st2, "SLOT_MASTER"), std::vector<std::string>{"imap2/du2s1"});
  const std::vector<std::string> seeding = CopiesInRole(st2, "SLOT_SEEDING");
  ASSERT_EQ(seeding.size(), 1u) << absl::StrJoin(seeding, ",");
  EXPECT_FALSE(absl::StartsWith(seeding[0], "imap2/")) << "replica on the master's host";
  EXPECT_NE(seeding[0], "imap4/du1s1") << "placed on a slot that holds st1";
  // The human output shows the placed replica.
  EXPECT_NE(LineWith(create.out, "seeding " + seeding[0]), "") << create.out;
}

TEST_F(SlotctlIntegrationTest, FailoverRefusesANonCopyAndPromotesAReplica) {
  // A slot that holds no copy of the store is refused, with the reason.
  Result refused = Slotctl({"failover", "st1", "--to", "imap3/du2s1", "--dry-run"});
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(LineWith(refused.out, "st1", "holds no copy of store st1"), "") << refused.out;

  // Data of st1 that was found on disk but not adopted (imap4/du1s1) is not
  // a copy either.
  Result stray = Slotctl({"failover", "st1", "--to", "imap4/du1s1", "--dry-run"});
  EXPECT_EQ(stray.code, 1) << stray.out;
  EXPECT_NE(LineWith(stray.out, "st1", "holds no copy of store st1"), "") << stray.out;

  // imap2/du1s1 was seeded by the data path: an in-sync replica.
  ASSERT_TRUE(cluster()
                  .WaitForStore(
                      "st1",
                      [](const v1::StoreInfo& s) {
                        for (const v1::Copy& c : s.copies()) {
                          if (c.slot().host() == "imap2" && c.role() == v1::SLOT_REPLICA &&
                              c.in_sync()) {
                            return true;
                          }
                        }
                        return false;
                      },
                      absl::Seconds(30), "imap2/du1s1 an in-sync replica")
                  .ok());
  Result plan = Slotctl({"failover", "st1", "--to", "imap2/du1s1", "--dry-run"});
  EXPECT_EQ(plan.code, 0) << plan.out;
  EXPECT_TRUE(absl::StrContains(plan.out, "dry run, nothing changed")) << plan.out;
  EXPECT_NE(LineWith(plan.out, "st1", "would fail over"), "") << plan.out;
  Struct plan_json = SlotctlJson({"failover", "st1", "--to", "imap2/du1s1", "--dry-run"}, 0);
  ASSERT_EQ(Field(plan_json, "items").list_value().values_size(), 1) << plan.out;
  Struct before = SlotctlJson({"store", "st1"}, 0);
  EXPECT_EQ(CopiesInRole(before, "SLOT_MASTER"), std::vector<std::string>{"imap1/du1s1"})
      << "a dry run changed the master";

  Result done = Slotctl({"failover", "st1", "--to", "imap2/du1s1", "--yes"});
  EXPECT_EQ(done.code, 0) << done.out;
  EXPECT_NE(LineWith(done.out, "st1", "done"), "") << done.out;

  // "done" means requested: the old master is fenced first (it demotes and
  // acknowledges), then the coordinator promotes the target.
  EXPECT_TRUE(cluster()
                  .WaitForStore(
                      "st1",
                      [](const v1::StoreInfo& s) {
                        for (const v1::Copy& c : s.copies()) {
                          if (c.role() == v1::SLOT_MASTER && c.slot().host() == "imap2") {
                            return true;
                          }
                        }
                        return false;
                      },
                      absl::Seconds(25), "imap2/du1s1 promoted")
                  .ok());
  Result store = Slotctl({"store", "st1"});
  EXPECT_EQ(store.code, 0) << store.out;
  EXPECT_NE(LineWith(store.out, "imap2/du1s1", "master"), "") << store.out;
  EXPECT_TRUE(absl::StrContains(store.out, "master epoch 2")) << store.out;
  Result user = Slotctl({"user", "st1-user0001"});
  EXPECT_NE(LineWith(user.out, "master:", "imap2/du1s1"), "") << user.out;
}

TEST_F(SlotctlIntegrationTest, AutomationPauseStatusResume) {
  Result pause = Slotctl({"automation", "pause", "--reason", "integration test window"});
  EXPECT_EQ(pause.code, 0) << pause.out;
  EXPECT_TRUE(absl::StrContains(pause.out, "paused: integration test window")) << pause.out;

  Result status = Slotctl({"automation", "status"});
  EXPECT_EQ(status.code, 0) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "PAUSED by ")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "integration test window")) << status.out;
  Struct json = SlotctlJson({"automation", "status"}, 0);
  EXPECT_EQ(Field(json, "mode").string_value(), "AUTOMATION_PAUSED");
  Result cluster_status = Slotctl({"status"});
  EXPECT_TRUE(absl::StrContains(cluster_status.out, "Automation: PAUSED")) << cluster_status.out;

  Result no_reason = Slotctl({"automation", "pause"});
  EXPECT_EQ(no_reason.code, 2) << no_reason.out;

  Result resume = Slotctl({"automation", "resume"});
  EXPECT_EQ(resume.code, 0) << resume.out;
  EXPECT_TRUE(absl::StrContains(resume.out, "Automation is now running")) << resume.out;
  json = SlotctlJson({"automation", "status"}, 0);
  EXPECT_EQ(Field(json, "mode").string_value(), "AUTOMATION_RUNNING");
}

TEST_F(SlotctlIntegrationTest, DrainAndUndrain) {
  Result plan = Slotctl({"drain", "imap3", "--dry-run"});
  EXPECT_EQ(plan.code, 0) << plan.out;
  EXPECT_TRUE(absl::StrContains(plan.out, "Plan for draining imap3 (dry run, nothing changed)"))
      << plan.out;
  EXPECT_TRUE(absl::StrContains(plan.out, "0 copies re-created elsewhere")) << plan.out;
  Result drain = Slotctl({"drain", "imap3", "--yes", "--reason", "disk swap"});
  EXPECT_EQ(drain.code, 0) << drain.out;
  EXPECT_TRUE(absl::StrContains(drain.out, "Draining imap3: no new placements; 0 master(s)"))
      << drain.out;
  Result host = Slotctl({"host", "imap3"});
  EXPECT_TRUE(absl::StrContains(host.out, "draining: yes (disk swap)")) << host.out;
  Result hosts = Slotctl({"hosts"});
  EXPECT_NE(LineWith(hosts.out, "imap3", " yes "), "") << hosts.out;
  Result status = Slotctl({"status"});
  EXPECT_TRUE(absl::StrContains(status.out, "1 draining")) << status.out;

  Result undrain = Slotctl({"undrain", "imap3"});
  EXPECT_EQ(undrain.code, 0) << undrain.out;
  EXPECT_TRUE(absl::StrContains(undrain.out, "Undrained imap3")) << undrain.out;
  host = Slotctl({"host", "imap3"});
  EXPECT_TRUE(absl::StrContains(host.out, "draining: no")) << host.out;
}

TEST_F(SlotctlIntegrationTest, MarkLostAndKsck) {
  // stdin is /dev/null: without --yes the confirmation is "no".
  Result unconfirmed = Slotctl({"mark-lost", "imap3/du1"});
  EXPECT_EQ(unconfirmed.code, 1) << unconfirmed.out;
  EXPECT_TRUE(absl::StrContains(unconfirmed.out, "not confirmed")) << unconfirmed.out;
  Struct unchanged = SlotctlJson({"store", "st1"}, 0);
  EXPECT_TRUE(CopiesInRole(unchanged, "SLOT_LOST").empty()) << "changed without confirmation";

  Result lost = Slotctl({"mark-lost", "imap3/du1", "--yes"});
  EXPECT_EQ(lost.code, 0) << lost.out;
  EXPECT_TRUE(absl::StrContains(lost.out, "Drive unit imap3/du1 declared lost")) << lost.out;
  EXPECT_TRUE(absl::StrContains(lost.out, "1 store(s) affected: st1")) << lost.out;

  Result store = Slotctl({"store", "st1"});
  EXPECT_NE(LineWith(store.out, "imap3/du1s1", "lost"), "") << store.out;

  Result ksck = Slotctl({"ksck"});
  EXPECT_EQ(ksck.code, 1) << ksck.out;
  EXPECT_NE(LineWith(ksck.out, "ERROR store=st1 slot=imap3/du1s1", "lost drive unit"), "")
      << ksck.out;
  EXPECT_NE(LineWith(ksck.out, "PROBLEMS: 2 stores checked"), "") << ksck.out;
  Struct json = SlotctlJson({"ksck"}, 1);
  EXPECT_EQ(Field(json, "stores_checked").number_value(), 2);
  EXPECT_GT(Field(json, "problems").list_value().values_size(), 0);
}

TEST_F(SlotctlIntegrationTest, EventsAndIncidentTellWhatHappened) {
  Result events = Slotctl({"events", "--since", "1h"});
  EXPECT_EQ(events.code, 0) << events.out;
  EXPECT_NE(LineWith(events.out, "", "store.created       store=st1"), "") << events.out;
  EXPECT_NE(LineWith(events.out, "", "automation.paused"), "") << events.out;
  EXPECT_NE(LineWith(events.out, "", "host.drain"), "") << events.out;
  EXPECT_NE(LineWith(events.out, "", "unit.lost           imap3/du1"), "") << events.out;
  Struct json = SlotctlJson({"events", "--since", "1h"}, 0);
  EXPECT_GT(Field(json, "events").list_value().values_size(), 10);

  Result incident = Slotctl({"incident", "--since", "1h"});
  EXPECT_EQ(incident.code, 0) << incident.out;
  EXPECT_TRUE(absl::StartsWith(incident.out, "# ")) << incident.out;
  EXPECT_TRUE(absl::StrContains(incident.out, "## Timeline (UTC)")) << incident.out;
  EXPECT_TRUE(absl::StrContains(incident.out, "imap3")) << incident.out;
  EXPECT_TRUE(absl::StrContains(incident.out, "st1")) << incident.out;
  json = SlotctlJson({"incident", "--since", "1h"}, 0);
  EXPECT_TRUE(absl::StartsWith(Field(json, "markdown").string_value(), "# "));
  EXPECT_FALSE(Field(json, "title").string_value().empty());
}

TEST_F(SlotctlIntegrationTest, JsonOnEveryReadVerb) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string field;  // a top-level field the object must have
  };
  const std::vector<Case> cases = {
      {{"hosts"}, 0, "hosts"},
      {{"host", "imap1"}, 0, "units"},
      {{"stores"}, 0, "stores"},
      {{"store", "st1"}, 0, "copies"},
      {{"user", "st1-user0002"}, 0, "master"},
      {{"tasks"}, 0, "tasks"},
      {{"events", "--since", "1h"}, 0, "events"},
      {{"automation", "status"}, 0, "mode"},
      {{"ksck"}, 1, "problems"},
      {{"incident", "--since", "1h"}, 0, "markdown"},
  };
  for (const Case& c : cases) {
    Struct json = SlotctlJson(c.args, c.code);
    EXPECT_EQ(json.fields().count(c.field), 1u)
        << absl::StrJoin(c.args, " ") << " --json has no \"" << c.field << "\"";
  }
  Struct hosts = SlotctlJson({"hosts"}, 0);
  EXPECT_EQ(Field(hosts, "hosts").list_value().values_size(), 4);
}

TEST_F(SlotctlIntegrationTest, DataSafetyVerbs) {
  // The deep check passes through to the agents (ksck still finds the lost
  // unit of MarkLostAndKsck).
  Result deep = Slotctl({"ksck", "--verify-data", "--deep"});
  EXPECT_EQ(deep.code, 1) << deep.out;
  const std::string summary = LineWith(deep.out, "PROBLEMS:");
  EXPECT_TRUE(absl::StrContains(summary, "(deep: every file read again)") ||
              absl::StrContains(summary, "not every copy's agent answered"))
      << deep.out;

  // Nothing is stranded and no user is blocked on a cluster that never
  // failed over under load: reconcile has nothing to do, unblock is refused.
  Result reconcile = Slotctl({"store", "reconcile", "st2", "--yes"});
  EXPECT_EQ(reconcile.code, 0) << reconcile.out;
  EXPECT_TRUE(absl::StrContains(reconcile.out, "Nothing stranded to copy.")) << reconcile.out;
  Struct plan = SlotctlJson({"store", "reconcile", "st2", "--dry-run"}, 0);
  EXPECT_EQ(Field(plan, "stranded").list_value().values_size(), 0);
  Result unblock = Slotctl({"user", "unblock", "st1-user0002", "--yes"});
  EXPECT_EQ(unblock.code, 1) << unblock.out;
  EXPECT_TRUE(absl::StrContains(unblock.out, "refused (no copy of st1 reports user st1-user0002"))
      << unblock.out;

  // The quarantine listing asks every copy's agent; each slot answers with
  // its totals or says why its agent could not be asked.
  Struct listed = SlotctlJson({"quarantine", "list", "--store", "st2"}, -1);
  const auto& slots = Field(listed, "slots").list_value().values();
  EXPECT_GT(slots.size(), 0);
  for (const Value& slot : slots) {
    EXPECT_EQ(Field(slot.struct_value(), "store").string_value(), "st2");
  }
  ExpectNotFound({"quarantine", "list", "--store", "nosuch"}, "nosuch");
}

// The exit code of `status` (and of `status --json`) says what its stores
// say: 4 when one has no usable master, 3 when one has fewer copies than
// required, else 0. Checked on one answer of the real coordinator, whatever
// re-replication has reached by now.
TEST_F(SlotctlIntegrationTest, StatusExitCodeFollowsTheStores) {
  for (int round = 0; round < 3; ++round) {
    Struct json;
    Result r = Slotctl({"--json", "status"});
    ASSERT_TRUE(r.code == 0 || r.code == 3 || r.code == 4) << r.out;
    json = ParseJson(r.out, "slotctl --json status");
    int want = 0;
    for (const Value& s : Field(json, "troubled_stores").list_value().values()) {
      const std::string state = Field(s.struct_value(), "state").string_value();
      if (state == "STORE_NO_MASTER" || state == "STORE_UNAVAILABLE") want = 4;
      if (state == "STORE_DEGRADED" && want == 0) want = 3;
    }
    EXPECT_EQ(r.code, want) << r.out;
    EXPECT_EQ(Field(json, "stores_total").number_value(), 2);
    // Every store has a usable master here (nothing failed but a replica's
    // unit), so mail is never at risk.
    EXPECT_NE(r.code, 4) << r.out;
    Result text = Slotctl({"status"});
    EXPECT_TRUE(text.code == 0 || text.code == 3) << text.out;
    EXPECT_EQ(text.code == 3, absl::StrContains(text.out, "MAIL SAFE, REDUNDANCY REDUCED"))
        << text.out;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

// A verb that asks checks first: stdin is /dev/null, so a prompt would end
// in "not confirmed"; each is refused with what was wrong instead.
TEST_F(SlotctlIntegrationTest, ConfirmingVerbsCheckBeforeAsking) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"mark-lost", "imap1/du9"}, "not found (host imap1 has no drive unit du9; it has du1, du2)"},
      {{"mark-lost", "imap3/du1"}, "refused (drive unit imap3/du1 is already lost; nothing to do)"},
      {{"unit", "reinstate", "imap1/du1"}, "imap1/du1 is online: nothing to reinstate"},
      {{"failover", "nosuch"}, "failover of store \"nosuch\": not found"},
      {{"store", "reconcile", "nosuch"}, "store reconcile \"nosuch\": not found"},
      {{"user", "unblock", "nobody"}, "user \"nobody\""},
  };
  for (const auto& [args, error] : cases) {
    Result r = Slotctl(args);
    EXPECT_EQ(r.code, 1) << Describe(args, r);
    EXPECT_TRUE(absl::StrContains(r.out, error)) << Describe(args, r);
    EXPECT_FALSE(absl::StrContains(r.out, "[y/N]")) << Describe(args, r);
    EXPECT_FALSE(absl::StrContains(r.out, "not confirmed")) << Describe(args, r);
  }
}

TEST_F(SlotctlIntegrationTest, UnknownStoreHostAndUserAreOneLineErrors) {
  ExpectNotFound({"store", "nosuch"}, "nosuch");
  ExpectNotFound({"host", "nohost"}, "nohost");
  ExpectNotFound({"user", "nobody"}, "nobody");
  ExpectNotFound({"failover", "nosuch", "--yes"}, "nosuch");
  ExpectNotFound({"drain", "nohost", "--dry-run"}, "nohost");
  ExpectNotFound({"mark-lost", "nohost/du1", "--yes"}, "nohost");
}

// Runs the slotctl binary with `args` (no cluster: for the checks that need
// no coordinator, which also run without root).
Result SlotctlAlone(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Runfile("tools/slotctl/slotctl"), "--insecure_loopback_only"};
  argv.insert(argv.end(), args.begin(), args.end());
  Result r;
  auto code = RunCommand(argv, &r.out, absl::Seconds(30));
  EXPECT_TRUE(code.ok()) << code.status();
  if (code.ok()) r.code = *code;
  return r;
}

// Port 1 is privileged and served by nothing here: connections are refused.
constexpr char kNobodyThere[] = "127.0.0.1:1";

// Without --tls_* or --insecure_loopback_only (and no SLOTKEEPER_TLS_*
// defaults) slotctl refuses to connect, saying what to give.
TEST(SlotctlWithoutClusterTest, NoTransportChoiceIsAUsageError) {
  std::string out;
  auto code = RunCommand({Runfile("tools/slotctl/slotctl"), "--server", kNobodyThere, "status"},
                         &out, absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "give --tls_ca, --tls_cert and --tls_key")) << out;
  // Plaintext to an address off loopback is refused before any connection.
  Result off = SlotctlAlone({"--server", "192.0.2.1:7300", "status"});
  EXPECT_EQ(off.code, 1) << off.out;
  EXPECT_TRUE(absl::StrContains(off.out, "\"192.0.2.1:7300\" is not a loopback address"))
      << off.out;
}

// The completion script needs no server and no transport choice, and is the
// file packaged as /usr/share/bash-completion/completions/slotctl.
TEST(SlotctlWithoutClusterTest, CompletionScriptIsThePackagedFile) {
  std::string out;
  auto code =
      RunCommand({Runfile("tools/slotctl/slotctl"), "completion", "bash"}, &out, absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << out;
  std::ifstream in(Runfile("tools/slotctl/slotctl.bash-completion"));
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(out, file.str());
  EXPECT_TRUE(absl::StrContains(out, "complete -F _slotctl slotctl")) << out;
}

// slotmgrd's duration flags share slotctl's grammar, refusals included.
TEST(SlotctlWithoutClusterTest, CoordinatorRefusesANegativeDuration) {
  std::string out;
  auto code = RunCommand(
      {Runfile("slotmgr/slotmgrd"), "--insecure_loopback_only", "--listen=127.0.0.1:0",
       "--data_dir=" + std::string(std::getenv("TEST_TMPDIR")) + "/neg", "--replace_after=-1h"},
      &out, absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "replace_after")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"-1h\" is not a duration: it must not be negative")) << out;
}

TEST(SlotctlWithoutClusterTest, UsageErrorsExitTwoAndAreJsonWithJson) {
  Result verb = SlotctlAlone({"--server", kNobodyThere, "frobnicate"});
  EXPECT_EQ(verb.code, 2) << verb.out;
  EXPECT_TRUE(absl::StrContains(verb.out, "unknown verb \"frobnicate\"")) << verb.out;
  Result json_verb = SlotctlAlone({"--server", kNobodyThere, "--json", "frobnicate"});
  EXPECT_EQ(json_verb.code, 2) << json_verb.out;
  Struct json = ParseJson(json_verb.out, "slotctl --json frobnicate");
  EXPECT_EQ(Field(Field(json, "error").struct_value(), "code").string_value(), "INVALID_ARGUMENT");

  // Caught before any call: a bad HOST/SLOT, a missing --master, a missing
  // --reason, a bad --server.
  const std::vector<std::vector<std::string>> usage = {
      {"store", "create", "st9", "--master", "imap1", "--copies", "2"},
      {"store", "create", "st9", "--copies", "2"},
      {"automation", "pause"},
      {"failover", "st1", "--json"},                   // --json needs --yes or --dry-run
      {"ksck", "--deep"},                              // --deep needs --verify-data
      {"quarantine", "purge", "--older-than", "30d"},  // needs --slot
      {"quarantine", "restore", "--slot", "imap1/du1s1", "ID", "--json"},
      {"user", "unblock", "st1-user0001", "--json"},
      {"store", "reconcile", "st1", "--from", "imap1"},
  };
  for (const auto& args : usage) {
    std::vector<std::string> argv = {"--server", kNobodyThere};
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = SlotctlAlone(argv);
    EXPECT_EQ(r.code, 2) << Describe(argv, r);
    argv.push_back("--json");
    if (args.back() == "--json") argv.pop_back();
    r = SlotctlAlone(argv);
    EXPECT_EQ(r.code, 2) << Describe(argv, r);
    EXPECT_EQ(ParseJson(r.out, Describe(argv, r)).fields().count("error"), 1u);
  }
  Result bad_server = SlotctlAlone({"--server", "not-an-address", "status"});
  EXPECT_EQ(bad_server.code, 2) << bad_server.out;
  EXPECT_TRUE(absl::StrContains(bad_server.out, "--server")) << bad_server.out;
}

TEST(SlotctlWithoutClusterTest, UnreachableServerIsOneLineNamingTheAddress) {
  const std::vector<std::vector<std::string>> verbs = {
      {"status"},
      {"hosts"},
      {"host", "imap1"},
      {"stores"},
      {"store", "st1"},
      {"user", "st1-user0001"},
      {"tasks"},
      {"events", "--since", "1h"},
      {"ksck"},
      {"incident", "--since", "1h"},
      {"automation", "status"},
      {"drain", "imap1", "--yes"},
      {"host", "forget", "imap1", "--dry-run"},
      {"task", "cancel", "t1"},
      {"failover", "st1", "--yes"},
      {"mark-lost", "imap1/du1", "--yes"},
      {"quarantine", "list", "--store", "st1"},
      {"quarantine", "restore", "--slot", "imap1/du1s1", "ID", "--yes"},
      {"user", "unblock", "st1-user0001", "--yes"},
      {"store", "reconcile", "st1", "--dry-run"},
  };
  for (const auto& args : verbs) {
    std::vector<std::string> argv = {"--server", kNobodyThere, "--timeout", "3s"};
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = SlotctlAlone(argv);
    EXPECT_EQ(r.code, 1) << Describe(argv, r);
    EXPECT_EQ(Lines(r.out).size(), 1u) << Describe(argv, r);
    EXPECT_TRUE(absl::StrContains(r.out, kNobodyThere)) << Describe(argv, r);

    argv.push_back("--json");
    r = SlotctlAlone(argv);
    EXPECT_EQ(r.code, 1) << Describe(argv, r);
    Struct json = ParseJson(r.out, Describe(argv, r));
    const Struct& error = Field(json, "error").struct_value();
    EXPECT_EQ(Field(error, "code").string_value(), "UNAVAILABLE") << Describe(argv, r);
    EXPECT_TRUE(absl::StrContains(Field(error, "message").string_value(), kNobodyThere))
        << Describe(argv, r);
  }
}

}  // namespace
}  // namespace slotkeeper::testing
