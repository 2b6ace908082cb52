// The follow loop against a fake whose streams end as a restarting
// coordinator's do: no gap, no repeat, notices on stderr, doubling pauses.
#include "tools/slotctl/event_follow.h"

#include <sstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/fake_cluster_client.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FollowTest : public ::testing::Test {
 protected:
  FollowTest() {
    for (uint64_t seq = 1; seq <= 6; ++seq) {
      v1::Event e;
      e.set_seq(seq);
      e.set_time_ms(1000 * seq);
      e.set_kind("host.up");
      cluster_.events.push_back(e);
    }
    io_.print = [this](const v1::Event& e) {
      printed_.push_back(e.seq());
      return printed_.size() < stop_after_;
    };
    io_.err = &err_;
    io_.sleep = [this](absl::Duration d) { slept_.push_back(d); };
  }

  absl::Status Follow() {
    FakeClusterClient client(&cluster_);
    v1::WatchEventsRequest start;
    start.set_since_ms(1);
    return FollowEvents(client, start, io_);
  }

  FakeCluster cluster_;
  FollowIo io_;
  std::ostringstream err_;
  std::vector<uint64_t> printed_;
  std::vector<absl::Duration> slept_;
  size_t stop_after_ = 1000;
};

TEST_F(FollowTest, ResumesAfterTheLastPrintedEventWithoutGapsOrRepeats) {
  cluster_.watch_script = {
      {2, absl::UnavailableError("cannot reach slotmgrd at x: connection reset")},
      {0, absl::UnavailableError("cannot reach slotmgrd at x: connection refused"), false},
      // A server that sends everything again: what was printed is dropped.
      {4, absl::OkStatus(), true},
      {-1, absl::OkStatus()},
  };
  absl::Status st = Follow();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented) << "the fake's last stream: a refusal";
  EXPECT_THAT(printed_, ElementsAre(1, 2, 3, 4, 5, 6));
  ASSERT_EQ(cluster_.watch_requests.size(), 5u);
  EXPECT_EQ(cluster_.watch_requests[0].since_ms(), 1);
  EXPECT_EQ(cluster_.watch_requests[1].after_seq(), 2u);
  EXPECT_EQ(cluster_.watch_requests[1].since_ms(), 0);
  EXPECT_EQ(cluster_.watch_requests[2].after_seq(), 2u);
  EXPECT_EQ(cluster_.watch_requests[3].after_seq(), 4u);
  EXPECT_EQ(cluster_.watch_requests[4].after_seq(), 6u);
  // Pauses double while nothing comes, and start over once events flow.
  EXPECT_THAT(slept_, ElementsAre(absl::Milliseconds(500), absl::Seconds(1),
                                  absl::Milliseconds(500), absl::Milliseconds(500)));
  const std::string err = err_.str();
  EXPECT_THAT(err, HasSubstr("slotctl: the event stream ended: UNAVAILABLE: cannot reach slotmgrd "
                             "at x: connection reset; reconnecting in 500ms to resume after "
                             "event 2\n"));
  EXPECT_THAT(err, HasSubstr("reconnecting in 1s to resume after event 2\n"));
  EXPECT_THAT(err, HasSubstr("slotctl: reconnected; resuming after event 2\n"));
  EXPECT_THAT(err, HasSubstr("slotctl: the coordinator closed the event stream; reconnecting"));
}

TEST_F(FollowTest, AnUnreachableServerFailsAtOnceAndAClosedOutputEndsTheFollow) {
  cluster_.fail_all = absl::UnavailableError("cannot reach slotmgrd at x: connection refused");
  EXPECT_EQ(Follow().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(cluster_.watch_requests.empty());
  EXPECT_TRUE(slept_.empty());

  cluster_.fail_all = absl::OkStatus();
  cluster_.watch_script = {{-1, absl::UnavailableError("gone")}};
  stop_after_ = 3;
  EXPECT_TRUE(Follow().ok());
  EXPECT_THAT(printed_, ElementsAre(1, 2, 3));
  EXPECT_TRUE(slept_.empty());
}

TEST_F(FollowTest, AWindowIsReadWholePageByPageInOrder) {
  FakeClusterClient client(&cluster_);
  v1::ListEventsRequest req;
  req.set_since_ms(2000);  // events 2..6
  absl::StatusOr<std::vector<v1::Event>> window = ReadEventWindow(client, req, /*page=*/2);
  ASSERT_TRUE(window.ok()) << window.status();
  std::vector<uint64_t> seqs;
  for (const v1::Event& e : *window) seqs.push_back(e.seq());
  EXPECT_THAT(seqs, ElementsAre(2, 3, 4, 5, 6));
  EXPECT_EQ(cluster_.last_list_events.after_seq(), 5u) << "three pages";
  EXPECT_FALSE(cluster_.last_list_events.newest_first());
}

TEST(ShouldReconnectTest, TransientEndingsOnly) {
  EXPECT_TRUE(ShouldReconnect(absl::OkStatus()));
  EXPECT_TRUE(ShouldReconnect(absl::UnavailableError("x")));
  EXPECT_TRUE(ShouldReconnect(absl::CancelledError("x")));
  EXPECT_TRUE(ShouldReconnect(absl::ResourceExhaustedError("too many watch streams")));
  EXPECT_FALSE(ShouldReconnect(absl::PermissionDeniedError("viewer role needed")));
  EXPECT_FALSE(ShouldReconnect(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(ShouldReconnect(absl::UnimplementedError("x")));
}

}  // namespace
}  // namespace slotkeeper::slotctl
