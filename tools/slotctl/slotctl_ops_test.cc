// The verbs that page the journal and take hosts and tasks in hand: events
// newest first with what remains, drain's plan and confirmation, host
// forget (checked before asking), task cancel and retry, the tasks' notes.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class OpsVerbsTest : public ::testing::Test {
 protected:
  OpsVerbsTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") {
    return harness_.Run(args, in);
  }

  // The sequence numbers at the start of the event lines of `out`.
  static std::vector<uint64_t> Seqs(const std::string& out) {
    std::vector<uint64_t> seqs;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      uint64_t seq = 0;
      std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (!words.empty() && absl::SimpleAtoi(words[0], &seq)) seqs.push_back(seq);
    }
    return seqs;
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(OpsVerbsTest, EventsShowTheNewestFirstAndSayWhatIsLeft) {
  const uint64_t first = cluster_.events.front().seq();
  const uint64_t last = cluster_.events.back().seq();
  ASSERT_EQ(last - first + 1, cluster_.events.size()) << "numbered without gaps";
  const uint64_t n = cluster_.events.size();
  RunResult r = Run({"events", "--since", "1d", "--limit", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(cluster_.last_list_events.newest_first());
  EXPECT_THAT(Seqs(r.out), ElementsAre(last, last - 1, last - 2));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("... ", n - 3, " older events; use --before ", last - 2,
                                            " --since 1d --limit 3 to see them\n")));
  // The next page back, as the line says.
  r = Run({"events", "--before", absl::StrCat(last - 2), "--since", "1d", "--limit", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(Seqs(r.out), ElementsAre(last - 3, last - 4, last - 5));
  // Forward from an event: the oldest after it, and what is newer.
  r = Run({"events", "--after", absl::StrCat(first + 1), "--limit", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(cluster_.last_list_events.newest_first());
  EXPECT_EQ(cluster_.last_list_events.since_ms(), 0) << "an anchored page has no default window";
  EXPECT_THAT(Seqs(r.out), ElementsAre(first + 2, first + 3));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("... ", n - 4, " newer events; use --after ", first + 3,
                                            " --limit 2 to see them")));
  // Everything fits: no closing line.
  r = Run({"events", "--since", "1d"});
  EXPECT_THAT(r.out, Not(HasSubstr("...")));
  EXPECT_EQ(Seqs(r.out).front(), last);
  EXPECT_EQ(Run({"events", "--before", "tomorrow"}).code, 2);
  EXPECT_EQ(Run({"events", "--follow", "--before", "3"}).code, 2);
}

TEST_F(OpsVerbsTest, EventsJsonIsChronologicalWithWhatRemains) {
  RunResult r = Run({"--json", "events", "--since", "1d", "--limit", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(IsJsonObject(r.out)) << r.out;
  const uint64_t last = cluster_.events.back().seq();
  const size_t a = r.out.find(absl::StrCat("\"seq\": \"", last - 2, "\""));
  const size_t b = r.out.find(absl::StrCat("\"seq\": \"", last, "\""));
  ASSERT_NE(a, std::string::npos) << r.out;
  ASSERT_NE(b, std::string::npos) << r.out;
  EXPECT_LT(a, b) << "oldest first in JSON";
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat("\"remaining\": \"", cluster_.events.size() - 3, "\"")));
}

TEST_F(OpsVerbsTest, FollowReconnectsAndSaysSo) {
  cluster_.watch_script = {{2, absl::UnavailableError("cannot reach slotmgrd: connection reset")},
                           {-1, absl::OkStatus()}};
  RunResult r = Run({"events", "--follow", "--since", "1d"});
  EXPECT_EQ(r.code, 1) << "the fake ends with a refusal after its streams";
  EXPECT_EQ(Seqs(r.out).size(), cluster_.events.size());
  const uint64_t second = cluster_.events[1].seq();
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat("reconnecting in 500ms to resume after event ", second)));
  ASSERT_EQ(cluster_.watch_requests.size(), 3u);
  EXPECT_EQ(cluster_.watch_requests[1].after_seq(), second);
  EXPECT_THAT(harness_.slept, ElementsAre(absl::Milliseconds(500), absl::Milliseconds(500)));
}

TEST_F(OpsVerbsTest, DrainShowsThePlanAsksAndDryRunChangesNothing) {
  RunResult r = Run({"drain", "imap1", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("Drain dry-run"));
  EXPECT_FALSE(cluster_.FindHost("imap1")->draining());
  EXPECT_THAT(r.out, HasSubstr("Plan for draining imap1 (dry run, nothing changed):"));
  EXPECT_THAT(r.out, HasSubstr("0 copies re-created elsewhere"));
  // Not confirmed: planned, nothing done.
  cluster_.calls.clear();
  r = Run({"drain", "imap1"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("Drain dry-run"));
  EXPECT_THAT(r.err, HasSubstr("Drain imap1 now? [y/N]"));
  EXPECT_FALSE(cluster_.FindHost("imap1")->draining());
  cluster_.calls.clear();
  r = Run({"drain", "imap1"}, "y\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("Drain dry-run", "Drain"));
  EXPECT_TRUE(cluster_.FindHost("imap1")->draining());
  EXPECT_EQ(Run({"--json", "drain", "imap1"}).code, 2) << "JSON needs --yes or --dry-run";
  cluster_.calls.clear();
  EXPECT_EQ(Run({"drain", "imap2", "--yes"}).code, 0);
  EXPECT_THAT(cluster_.calls, ElementsAre("Drain"));
}

TEST_F(OpsVerbsTest, HostForgetChecksBeforeAskingAndTakesAnyRecordedName) {
  // Up: refused before any question.
  RunResult r = Run({"host", "forget", "imap1"}, "y\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("host forget \"imap1\": refused (host \"imap1\" is not down"));
  EXPECT_THAT(r.err, Not(HasSubstr("[y/N]")));
  EXPECT_THAT(cluster_.calls, ElementsAre("ForgetHost dry-run"));
  r = Run({"host", "forget", "imap9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not found"));
  // A name the usual rules refuse, on record and down.
  v1::HostInfo odd;
  odd.set_name("imap 1");
  odd.set_state(v1::HOST_DOWN);
  cluster_.hosts.push_back(odd);
  cluster_.calls.clear();
  r = Run({"host", "forget", "imap 1"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Forget host \"imap 1\" for good?"));
  EXPECT_THAT(cluster_.calls, ElementsAre("ForgetHost dry-run"));
  r = Run({"host", "forget", "imap 1", "--yes", "--reason", "typo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Host \"imap 1\" forgotten"));
  EXPECT_EQ(cluster_.last_forget_host.reason(), "typo");
  EXPECT_EQ(cluster_.FindHost("imap 1"), nullptr);
  EXPECT_EQ(Run({"host", "forget", "a\tb"}).code, 2);
  EXPECT_EQ(Run({"host", "imap1", "--yes"}).code, 2) << "--yes goes with host forget";
}

TEST_F(OpsVerbsTest, TaskCancelAndRetry) {
  RunResult r = Run({"task", "cancel", "t-17", "--reason", "wrong target"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Task t-17: cancelled: by tester: wrong target."));
  EXPECT_THAT(r.out, HasSubstr("Placement plans a replacement for store st3 on its next pass"));
  r = Run({"task", "cancel", "t-17"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("task cancel \"t-17\": refused"));
  r = Run({"task", "retry", "t-18"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Task t-18 running, attempt 2 (backoff reset)"));
  EXPECT_EQ(Run({"task", "retry", "t-09"}).code, 1) << "done: nothing to retry";
  EXPECT_EQ(Run({"task", "restart", "t-09"}).code, 2);
  EXPECT_EQ(Run({"task", "cancel"}).code, 2);
}

TEST_F(OpsVerbsTest, ARunningTaskDoesNotShowThePreviousAttemptsErrorAsItsOwn) {
  for (v1::TaskInfo& t : cluster_.tasks) {
    if (t.id() != "t-17") continue;
    t.set_attempts(2);
    t.set_last_error("connection reset by imap2");
  }
  RunResult r = Run({"tasks"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("previous attempt failed: connection reset by imap2"));
  EXPECT_THAT(r.out, HasSubstr("retry in 2m: source imap4/s02 read-only"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
