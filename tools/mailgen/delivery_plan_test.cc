#include "tools/mailgen/delivery_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace slotkeeper::mailgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PacedStreamTest, EventsAreDueEvenlyFromTheStart) {
  PacedStream s(10, absl::Seconds(5));
  EXPECT_EQ(s.count(), 50u);
  EXPECT_EQ(s.Due(0), absl::ZeroDuration());
  EXPECT_EQ(s.Due(1), absl::Milliseconds(100));
  EXPECT_EQ(s.Due(49), absl::Milliseconds(4900));
  // Each due time comes from the start, not from the previous event.
  EXPECT_EQ(s.Due(1000), absl::Seconds(100));
}

TEST(PacedStreamTest, HoldsEveryEventDueBeforeTheEnd) {
  PacedStream thirds(3, absl::Seconds(1));
  EXPECT_EQ(thirds.count(), 3u);
  EXPECT_EQ(thirds.Due(1), absl::Nanoseconds(333333333));
  EXPECT_EQ(thirds.Due(2), absl::Nanoseconds(666666667));
  PacedStream slow(0.5, absl::Seconds(3));  // at 0 s and 2 s
  EXPECT_EQ(slow.count(), 2u);
  PacedStream exact(2, absl::Milliseconds(1500));  // 0, 0.5, 1.0
  EXPECT_EQ(exact.count(), 3u);
  PacedStream one(1000, absl::Nanoseconds(1));  // only the event at 0
  EXPECT_EQ(one.count(), 1u);
}

TEST(PacedStreamTest, NoRateOrNoTimeIsEmpty) {
  EXPECT_EQ(PacedStream(0, absl::Seconds(10)).count(), 0u);
  EXPECT_EQ(PacedStream(-1, absl::Seconds(10)).count(), 0u);
  EXPECT_EQ(PacedStream(10, absl::ZeroDuration()).count(), 0u);
}

TEST(DeliveryTimelineTest, MergesDeliveriesAndFlagsInDueOrder) {
  DeliveryTimeline t(4, 2, absl::Seconds(1));
  EXPECT_EQ(t.deliveries(), 4u);
  std::vector<std::string> seen;
  DeliveryEvent e;
  while (t.Next(&e)) {
    seen.push_back(absl::StrCat(e.kind == DeliveryEvent::Kind::kDeliver ? "d" : "f", e.index, "@",
                                absl::ToInt64Milliseconds(e.due)));
  }
  // A delivery goes first when both are due at once.
  EXPECT_THAT(seen, ElementsAre("d0@0", "f0@0", "d1@250", "d2@500", "f1@500", "d3@750"));
}

TEST(DeliveryTimelineTest, WithoutFlagsOnlyDeliveries) {
  DeliveryTimeline t(100, 0, absl::Seconds(2));
  uint64_t n = 0;
  absl::Duration last = -absl::Seconds(1);
  DeliveryEvent e;
  while (t.Next(&e)) {
    EXPECT_EQ(e.kind, DeliveryEvent::Kind::kDeliver);
    EXPECT_EQ(e.index, n);
    EXPECT_GT(e.due, last);
    last = e.due;
    ++n;
  }
  EXPECT_EQ(n, 200u);
}

TEST(UserPickerTest, SkewedTowardsTheFirstUsersAndCoversAll) {
  UserPicker p(10);
  EXPECT_EQ(p.Pick(0.0), 0u);
  EXPECT_EQ(p.Pick(0.9999999), 9u);
  std::vector<int> counts(10);
  for (int i = 0; i < 10000; ++i) counts[p.Pick((i + 0.5) / 10000)]++;
  EXPECT_GT(counts[0], counts[9] * 3);  // 1 : 1/10^0.8 = 6.3 : 1
  for (int c : counts) EXPECT_GT(c, 0);
  EXPECT_EQ(UserPicker(1).Pick(0.7), 0u);
}

TEST(MaildirNamesTest, UniqueNameAndKey) {
  EXPECT_EQ(MaildirUniqueName(1795000000123456789, 42, 7, "mailgen", 1234),
            "1795000000.M123456P42Q7.mailgen,S=1234");
  EXPECT_EQ(MaildirUniqueName(1795000000000001000, 1, 0, "h", 5), "1795000000.M000001P1Q0.h,S=5");
  EXPECT_EQ(MaildirKey("1795.M1P2Q3.mailgen,S=9:2,S"), "1795.M1P2Q3.mailgen,S=9");
  EXPECT_EQ(MaildirKey("1795.M1P2Q3.mailgen,S=9:2,"), "1795.M1P2Q3.mailgen,S=9");
  EXPECT_EQ(MaildirKey("1795.M1P2Q3.mailgen,S=9"), "1795.M1P2Q3.mailgen,S=9");
}

TEST(DeliveryLogTest, LineFormatRoundTrips) {
  DeliveryRecord r{1795000000123456789, "/mnt/imap1/du1/du1s1", "users/st1-user0003/new/x,S=5"};
  const std::string line = FormatDeliveryLine(r);
  EXPECT_EQ(line, "1795000000123456789 /mnt/imap1/du1/du1s1 users/st1-user0003/new/x,S=5\n");
  auto parsed = ParseDeliveryLine(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->unix_ns, r.unix_ns);
  EXPECT_EQ(parsed->slot, r.slot);
  EXPECT_EQ(parsed->path, r.path);
}

TEST(DeliveryLogTest, RefusesMalformedLines) {
  EXPECT_THAT(ParseDeliveryLine("123 /slot").status().message(), HasSubstr("2 fields, not 3"));
  EXPECT_THAT(ParseDeliveryLine("123 /s users/u/new/x extra").status().message(),
              HasSubstr("4 fields"));
  EXPECT_THAT(ParseDeliveryLine("-5 /s users/u/new/x").status().message(),
              HasSubstr("positive number"));
  EXPECT_THAT(ParseDeliveryLine("abc /s users/u/new/x").status().message(),
              HasSubstr("positive number"));
  for (const char* bad : {"users/../new/x", "users/u/cur/x", "users/u/new/", "mail/u/new/x",
                          "users/u/new/x/y", "users//new/x", "users/u/new/.."}) {
    EXPECT_THAT(ParseDeliveryLine(absl::StrCat("1 /s ", bad)).status().message(),
                HasSubstr("users/<user>/new/<name>"))
        << bad;
  }
}

TEST(SlotArgumentsTest, EveryOccurrenceAndCommaLists) {
  EXPECT_THAT(SlotArguments({"mailgen", "--slot=/a", "--rate", "5", "--slot", "/b,/c", "-slot=/d",
                             "--slot_x=/e", "--slot=", "--", "--slot=/f"}),
              ElementsAre("/a", "/b", "/c", "/d"));
  EXPECT_TRUE(SlotArguments({"mailgen", "--deliver"}).empty());
}

TEST(NearestRankTest, Percentiles) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(NearestRank(v, 0.50), 50);
  EXPECT_EQ(NearestRank(v, 0.99), 99);
  EXPECT_EQ(NearestRank(v, 1.0), 100);
  EXPECT_EQ(NearestRank({7}, 0.5), 7);
  EXPECT_EQ(NearestRank({}, 0.5), 0);
}

}  // namespace
}  // namespace slotkeeper::mailgen
