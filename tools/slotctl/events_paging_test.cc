// The events verb's bounds, request and closing line (pure).
#include "tools/slotctl/events_paging.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;

TEST(ParseEventBoundTest, ASequenceNumberOrATime) {
  absl::StatusOr<EventBound> b = ParseEventBound("1234", "--before");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->seq, 1234u);
  b = ParseEventBound("2026-12-02T04:00:00Z", "--before");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->seq, 0u);
  EXPECT_EQ(b->time_ms, 1796184000000);
  // As slotctl prints times, with or without " UTC"; an offset in RFC 3339.
  EXPECT_EQ(ParseEventBound("2026-12-02 04:00:00 UTC", "--after")->time_ms, 1796184000000);
  EXPECT_EQ(ParseEventBound("2026-12-02 04:00:00", "--after")->time_ms, 1796184000000);
  EXPECT_EQ(ParseEventBound("2026-12-02T05:00:00+01:00", "--after")->time_ms, 1796184000000);
  for (const char* bad :
       {"0", "", "-3", "12x", "yesterday", "2026-13-02T00:00:00Z", "99999999999999999999999"}) {
    absl::StatusOr<EventBound> r = ParseEventBound(bad, "--before");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("--before")) << bad;
  }
}

TEST(EventsRequestTest, NewestFirstUnlessPagingForwardAndTimeBoundsAreExclusive) {
  EventsPaging p;
  p.limit = 3;
  p.since_ms = 5000;
  v1::ListEventsRequest r = EventsRequest(p);
  EXPECT_TRUE(r.newest_first());
  EXPECT_EQ(r.limit(), 3u);
  EXPECT_EQ(r.since_ms(), 5000);
  p.before = EventBound{100, 0};
  r = EventsRequest(p);
  EXPECT_TRUE(r.newest_first());
  EXPECT_EQ(r.before_seq(), 100u);
  p.before.reset();
  p.after = EventBound{0, 9000};
  r = EventsRequest(p);
  EXPECT_FALSE(r.newest_first()) << "--after alone pages forward: the oldest after it";
  EXPECT_EQ(r.since_ms(), 9001);
  p.before = EventBound{0, 20000};
  r = EventsRequest(p);
  EXPECT_TRUE(r.newest_first());
  EXPECT_EQ(r.until_ms(), 19999);
}

TEST(MoreEventsLineTest, SaysHowManyAndHowToSeeThem) {
  v1::ListEventsRequest req;
  req.set_newest_first(true);
  v1::ListEventsResponse resp;
  resp.add_events()->set_seq(1240);
  resp.add_events()->set_seq(1234);
  EXPECT_EQ(MoreEventsLine(req, resp, " --since 1h"), "") << "nothing remains";
  resp.set_remaining(4213);
  EXPECT_EQ(MoreEventsLine(req, resp, " --since 1h"),
            "... 4,213 older events; use --before 1234 --since 1h to see them");
  req.set_newest_first(false);
  resp.set_remaining(1);
  EXPECT_EQ(MoreEventsLine(req, resp, ""), "... 1 newer event; use --after 1234 to see them");
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace slotkeeper::slotctl
