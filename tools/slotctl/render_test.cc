#include "tools/slotctl/render.h"

#include <sstream>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;

TEST(TableTest, AlignsByVisibleWidthIgnoringColour) {
  Table t({"HOST", "STATE"});
  t.AddRow({"imap10", Paint("down", Tone::kBad, true)});
  t.AddRow({"a", "up"});
  std::ostringstream out;
  t.Print(out, 2);
  EXPECT_EQ(out.str(),
            "  HOST    STATE\n"
            "  imap10  \x1b[1;31mdown\x1b[0m\n"
            "  a       up\n");
}

TEST(TableTest, RowsOnly) {
  Table t({"NAME", "WHAT"});
  t.AddRow({"--since D", "how far back"});
  std::ostringstream out;
  t.Print(out, 0, /*with_header=*/false);
  EXPECT_EQ(out.str(), "--since D  how far back\n");
}

TEST(TableTest, NoColourWhenOff) {
  EXPECT_EQ(Paint("down", Tone::kBad, false), "down");
  EXPECT_EQ(VisibleWidth(Paint("down", Tone::kBad, true)), 4u);
  EXPECT_EQ(VisibleWidth("–"), 1u);
}

TEST(ColorWantedTest, AlwaysNeverAuto) {
  for (bool terminal : {false, true}) {
    for (bool no_color : {false, true}) {
      EXPECT_TRUE(*ColorWanted("always", terminal, no_color));
      EXPECT_FALSE(*ColorWanted("never", terminal, no_color));
      EXPECT_EQ(*ColorWanted("auto", terminal, no_color), terminal && !no_color);
    }
  }
  absl::StatusOr<bool> bad = ColorWanted("yes", true, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--color \"yes\" is not always, never or auto");
}

TEST(FormatTest, TimesAndSizes) {
  const int64_t now = 1'800'000'000'000;
  EXPECT_EQ(FormatAgo(now - 90'000, now), "1m ago");
  EXPECT_EQ(FormatAgo(now - 8'100'000, now), "2h15m ago");
  EXPECT_EQ(FormatAgo(now + 300'000, now), "in 5m");
  EXPECT_EQ(FormatAgo(now, now), "just now");
  EXPECT_EQ(FormatAgo(0, now), "-");
  EXPECT_EQ(FormatTime(now), "2027-01-15 08:00:00 UTC");
  EXPECT_EQ(FormatOffset(3), "+3ms");
  EXPECT_EQ(FormatOffset(-850), "-850ms");
  EXPECT_EQ(FormatOffset(-21'600'000), "-6h");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(FormatPercent(1, 4), "25.0%");
  EXPECT_EQ(FormatPercent(1, 0), "-");
}

TEST(JsonTest, SnakeCaseAndDefaultsPrinted) {
  v1::HostInfo h;
  h.set_name("imap4");
  std::string json = ToJson(h, true);
  EXPECT_THAT(json, HasSubstr("\"clock_offset_ms\":\"0\""));
  EXPECT_THAT(json, HasSubstr("\"draining\":false"));
  EXPECT_THAT(json, HasSubstr("\"state\":\"HOST_STATE_UNSPECIFIED\""));
}

TEST(JsonTest, ErrorsAreValidJsonEvenWithQuotesAndControlCharacters) {
  const std::string json = ErrorJson(absl::NotFoundError("store \"st\\9\"\n\x01 not found"));
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  const auto& error = parsed.fields().at("error").struct_value().fields();
  EXPECT_EQ(error.at("code").string_value(), "NOT_FOUND");
  EXPECT_EQ(error.at("message").string_value(), "store \"st\\9\"\n\x01 not found");
  EXPECT_EQ(ErrorJson(absl::UnavailableError("x")),
            "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"x\"}}");
}

}  // namespace
}  // namespace slotkeeper::slotctl
