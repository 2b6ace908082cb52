#include "tools/slotctl/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<FlagSpec> kSpecs = {
    {"since", true, "DURATION", ""},
    {"follow", false, "", ""},
    {"help", false, "", ""},
};

TEST(ParseArgsTest, FlagsAndPositionalsInAnyOrder) {
  absl::StatusOr<ParsedArgs> p =
      ParseArgs({"a", "--since", "2h", "b", "--follow", "--", "--c"}, kSpecs, "events");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->positional, ElementsAre("a", "b", "--c"));
  EXPECT_EQ(p->Get("since"), "2h");
  EXPECT_TRUE(p->Has("follow"));
  EXPECT_FALSE(p->Has("help"));
}

TEST(ParseArgsTest, InlineValuesSwitchesAndShortHelp) {
  absl::StatusOr<ParsedArgs> p = ParseArgs({"--since=90s", "--follow=false", "-h"}, kSpecs, "x");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Get("since"), "90s");
  EXPECT_FALSE(p->Has("follow"));
  EXPECT_TRUE(p->Has("help"));
}

TEST(ParseArgsTest, StopsAtFirstPositionalWhenAsked) {
  absl::StatusOr<ParsedArgs> p = ParseArgs({"--follow", "verb", "--unknown"}, kSpecs, "", true);
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(p->positional, ElementsAre("verb", "--unknown"));
}

TEST(ParseArgsTest, ErrorsNameTheFlag) {
  EXPECT_EQ(ParseArgs({"--nope"}, kSpecs, "events").status().message(),
            "unknown flag --nope for \"events\"");
  EXPECT_EQ(ParseArgs({"--since"}, kSpecs, "events").status().message(),
            "flag --since needs a value (DURATION)");
  EXPECT_EQ(ParseArgs({"--since="}, kSpecs, "events").status().message(),
            "flag --since needs a non-empty value (DURATION)");
  EXPECT_EQ(ParseArgs({"--follow", "--follow"}, kSpecs, "").status().message(),
            "flag --follow given twice");
  EXPECT_THAT(std::string(ParseArgs({"--follow=yes"}, kSpecs, "").status().message()),
              HasSubstr("is a switch"));
  EXPECT_THAT(std::string(ParseArgs({"-f"}, kSpecs, "").status().message()),
              HasSubstr("unknown flag \"-f\""));
}

TEST(SlotRefTest, ParsesHostSlot) {
  absl::StatusOr<v1::SlotRef> r = ParseSlotRef("imap4/s01", "--to");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host(), "imap4");
  EXPECT_EQ(r->slot(), "s01");
  for (const char* bad : {"", "imap4", "imap4/", "/s01", "a/b/c", "im ap/s1", "imap4/s$1"}) {
    absl::StatusOr<v1::SlotRef> b = ParseSlotRef(bad, "--to");
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(b.status().message()), HasSubstr("--to \"")) << bad;
  }
}

TEST(SlotRefTest, Lists) {
  absl::StatusOr<std::vector<v1::SlotRef>> l = ParseSlotRefList("a/s1,b/s2", "--replicas");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[1].host(), "b");
  EXPECT_FALSE(ParseSlotRefList("a/s1,", "--replicas").ok());
  EXPECT_FALSE(ParseSlotRefList("", "--replicas").ok());
}

TEST(DurationTest, UnitsAndCombinations) {
  EXPECT_EQ(*ParseDuration("90s", "x"), absl::Seconds(90));
  EXPECT_EQ(*ParseDuration("30m", "x"), absl::Minutes(30));
  EXPECT_EQ(*ParseDuration("2h", "x"), absl::Hours(2));
  EXPECT_EQ(*ParseDuration("1d", "x"), absl::Hours(24));
  EXPECT_EQ(*ParseDuration("1h30m", "x"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("500ms", "x"), absl::Milliseconds(500));
  // The daemons' grammar (base/duration.h): fractions and days with hours.
  EXPECT_EQ(*ParseDuration("1.5h", "x"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("1d12h", "x"), absl::Hours(36));
  for (const char* bad : {"", "2", "h", "2x", "-1h", "0", "0s", "2 h", "1D"}) {
    EXPECT_FALSE(ParseDuration(bad, "--since").ok()) << bad;
  }
  EXPECT_EQ(ParseDuration("2x", "--since").status().message(),
            "--since \"2x\" is not a duration (e.g. 90s, 1.5h, 1d12h)");
  EXPECT_EQ(ParseDuration("0h", "--since").status().message(), "--since must be longer than zero");
}

TEST(IntTest, Range) {
  EXPECT_EQ(*ParseIntInRange("3", 2, 9, "--copies"), 3);
  EXPECT_FALSE(ParseIntInRange("1", 2, 9, "--copies").ok());
  EXPECT_FALSE(ParseIntInRange("10", 2, 9, "--copies").ok());
  EXPECT_FALSE(ParseIntInRange("3x", 2, 9, "--copies").ok());
}

TEST(NameTest, Validation) {
  EXPECT_TRUE(ValidateName("bob@example.org", "user").ok());
  EXPECT_TRUE(ValidateName("imap-4.dc1", "host").ok());
  EXPECT_FALSE(ValidateName("", "host").ok());
  EXPECT_EQ(ValidateName("a b", "host").message(),
            "host \"a b\" contains a space (printable ASCII only, no spaces)");
  EXPECT_FALSE(ValidateName(std::string(256, 'a'), "host").ok());
  EXPECT_TRUE(ValidateName("user+tag", "user").ok());  // the cluster's rule, not a narrower one
}

}  // namespace
}  // namespace slotkeeper::slotctl
