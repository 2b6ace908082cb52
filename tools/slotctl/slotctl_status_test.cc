// `status`'s exit code says whether mail is safe; --color says whether state
// words are coloured. Against a fake cluster.
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class StatusTest : public ::testing::Test {
 protected:
  StatusTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args) { return harness_.Run(args); }

  // Leaves only `keep` (by name) among the troubled stores.
  void KeepTroubled(const std::vector<std::string>& keep) {
    google::protobuf::RepeatedPtrField<v1::StoreInfo> kept;
    for (const v1::StoreInfo& s : cluster_.status.troubled_stores()) {
      if (std::find(keep.begin(), keep.end(), s.name()) != keep.end()) *kept.Add() = s;
    }
    *cluster_.status.mutable_troubled_stores() = kept;
  }

  // The exit code of `status`, and of `status --json`, which must agree.
  int StatusCode() {
    const int text = Run({"status"}).code;
    const int json = Run({"status", "--json"}).code;
    EXPECT_EQ(text, json);
    return text;
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(StatusTest, ExitCodeZeroWhenEveryStoreIsHealthy) {
  KeepTroubled({});
  cluster_.status.set_stores_healthy(3);
  EXPECT_EQ(StatusCode(), kExitOk);
  EXPECT_THAT(Run({"status"}).out, HasSubstr("MAIL SAFE: all 3 stores healthy"));
  // Hosts in trouble do not change it while every store is whole.
  EXPECT_GT(cluster_.status.troubled_hosts_size(), 0);
  cluster_.status = v1::ClusterStatus();
  EXPECT_EQ(StatusCode(), kExitOk) << "no stores: nothing at risk";
}

TEST_F(StatusTest, ExitCodeThreeWhenDegradedButEveryStoreServed) {
  KeepTroubled({"st3"});
  EXPECT_EQ(StatusCode(), kExitDegraded);
  EXPECT_EQ(kExitDegraded, 3);
  EXPECT_THAT(Run({"status"}).out, HasSubstr("MAIL SAFE, REDUNDANCY REDUCED"));
}

TEST_F(StatusTest, ExitCodeFourWhenAStoreHasNoUsableMaster) {
  EXPECT_EQ(StatusCode(), kExitMailAtRisk);  // st2 no master, st3 degraded
  EXPECT_EQ(kExitMailAtRisk, 4);
  KeepTroubled({"st2"});
  EXPECT_EQ(StatusCode(), kExitMailAtRisk);
  cluster_.status.mutable_troubled_stores(0)->set_state(v1::STORE_UNAVAILABLE);
  EXPECT_EQ(StatusCode(), kExitMailAtRisk);
  RunResult r = Run({"status"});
  EXPECT_THAT(r.out, HasSubstr("MAIL AT RISK"));
  EXPECT_EQ(r.err, "");
}

TEST_F(StatusTest, ExitCodeFourWhenServedOnlyOnDoubtedEvidence) {
  KeepTroubled({"st2"});
  cluster_.status.mutable_automation()->set_brake_engaged(true);
  for (v1::Copy& c : *cluster_.status.mutable_troubled_stores(0)->mutable_copies()) {
    if (c.role() == v1::SLOT_MASTER) c.set_serving(true);
  }
  RunResult r = Run({"status"});
  EXPECT_THAT(r.out, HasSubstr("MAIL SERVED ON DOUBTED EVIDENCE"));
  EXPECT_EQ(r.code, kExitMailAtRisk);
}

TEST_F(StatusTest, ErrorsAndUsageKeepOneAndTwo) {
  cluster_.fail_all = absl::UnavailableError("cannot reach slotmgrd at 127.0.0.1:7300");
  EXPECT_EQ(Run({"status"}).code, kExitFailed);
  EXPECT_EQ(Run({"status", "--json"}).code, kExitFailed);
  EXPECT_EQ(Run({"status", "extra"}).code, kExitUsage);
}

TEST_F(StatusTest, HelpDocumentsTheExitCodes) {
  RunResult r = Run({"help"});
  EXPECT_THAT(r.out, HasSubstr("  3  status: mail safe, redundancy reduced"));
  EXPECT_THAT(r.out, HasSubstr("  4  status: MAIL AT RISK"));
  EXPECT_THAT(r.out, HasSubstr("  1  the operation failed"));
  EXPECT_THAT(r.out, HasSubstr("  2  usage error"));
  EXPECT_THAT(Run({"help", "status"}).out, HasSubstr("Exit code"));
}

// --color: always colours even off a terminal, never never does, auto only
// on a terminal without NO_COLOR; JSON is never coloured.
TEST_F(StatusTest, ColorFlag) {
  const std::vector<std::vector<std::string>> verbs = {
      {"status"}, {"hosts"}, {"stores"}, {"tasks", "--all"}, {"host", "imap4"}};
  for (const auto& verb : verbs) {
    const std::string what = verb[0];
    std::vector<std::string> always = verb, never = verb;
    always.push_back("--color=always");
    never.insert(never.begin(), {"--color", "never"});
    harness_.terminal = false;
    EXPECT_THAT(Run(always).out, HasSubstr("\x1b[")) << what;
    EXPECT_THAT(Run(verb).out, Not(HasSubstr("\x1b["))) << what << ": auto, not a terminal";
    harness_.terminal = true;
    EXPECT_THAT(Run(never).out, Not(HasSubstr("\x1b["))) << what;
    EXPECT_THAT(Run(verb).out, HasSubstr("\x1b[")) << what << ": auto on a terminal";
    harness_.no_color = true;
    EXPECT_THAT(Run(verb).out, Not(HasSubstr("\x1b["))) << what << ": auto with NO_COLOR";
    EXPECT_THAT(Run(always).out, HasSubstr("\x1b[")) << what << ": always beats NO_COLOR";
    harness_.no_color = false;
    always.push_back("--json");
    EXPECT_THAT(Run(always).out, Not(HasSubstr("\x1b["))) << what << ": JSON";
  }
  RunResult bad = Run({"status", "--color=sometimes"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("--color \"sometimes\" is not always, never or auto"));
}

TEST_F(StatusTest, ColouredStateWordsAndUnchangedAlignment) {
  RunResult status = Run({"status", "--color=always"});
  EXPECT_THAT(status.out, HasSubstr("\x1b[1;31mMAIL AT RISK\x1b[0m"));
  EXPECT_THAT(status.out, HasSubstr("\x1b[33mdegraded\x1b[0m"));
  EXPECT_THAT(status.out, HasSubstr("\x1b[1;31mno-master\x1b[0m"));
  RunResult hosts = Run({"hosts", "--color=always"});
  EXPECT_THAT(hosts.out, HasSubstr("\x1b[32mup\x1b[0m"));
  RunResult tasks = Run({"tasks", "--all", "--color=always"});
  EXPECT_THAT(tasks.out, HasSubstr("\x1b[33mbackoff\x1b[0m"));

  // Without the escape codes, coloured tables are the plain ones, space for
  // space: widths count the visible text only.
  for (const std::vector<std::string>& verb : std::vector<std::vector<std::string>>{
           {"status"}, {"hosts"}, {"stores"}, {"tasks", "--all"}, {"host", "imap4"}}) {
    std::vector<std::string> coloured = verb;
    coloured.push_back("--color=always");
    std::string stripped = Run(coloured).out;
    for (const char* code : {"\x1b[1;31m", "\x1b[33m", "\x1b[32m", "\x1b[2m", "\x1b[0m"}) {
      stripped = absl::StrReplaceAll(stripped, {{code, ""}});
    }
    EXPECT_EQ(stripped, Run(verb).out) << verb[0];
  }
}

TEST_F(StatusTest, DrainingHostIsColouredInStatus) {
  cluster_.status.mutable_troubled_hosts(0)->set_draining(true);
  cluster_.status.mutable_troubled_hosts(0)->set_drain_reason("enclosure swap");
  EXPECT_THAT(Run({"status", "--color=always"}).out,
              HasSubstr("\x1b[33mdraining\x1b[0m (enclosure swap)"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
