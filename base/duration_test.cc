#include "base/duration.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

ABSL_FLAG(slotkeeper::FlagDuration, test_replace_after, absl::Hours(1), "for the test");

namespace slotkeeper {
namespace {

TEST(DurationTest, AcceptsAbslGrammarAndDays) {
  const std::vector<std::pair<std::string, absl::Duration>> cases = {
      {"0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"90s", absl::Seconds(90)},
      {"500ms", absl::Milliseconds(500)},
      {"250us", absl::Microseconds(250)},
      {"10ns", absl::Nanoseconds(10)},
      {"30m", absl::Minutes(30)},
      {"1.5h", absl::Minutes(90)},
      {".5s", absl::Milliseconds(500)},
      {"1h30m", absl::Minutes(90)},
      {"1d", absl::Hours(24)},
      {"1d12h", absl::Hours(36)},
      {"1.5d", absl::Hours(36)},
      {"90d", absl::Hours(24 * 90)},
      {"2h2h", absl::Hours(4)},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<absl::Duration> got = ParseDuration(text, "--x");
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(DurationTest, RefusesNegativesAndGarbageNamingFlagValueAndExample) {
  const std::vector<std::string> refused = {
      "",       "-5m", "-0",  "+5m", "5",  "1x",    "d",  "h1", "1h 30m", "inf",  "-inf",
      "1.2.3s", "1hh", "1 d", "1dd", "ms", "1week", "1D", "1H", "5m-",    "1e3s",
  };
  for (const std::string& text : refused) {
    absl::StatusOr<absl::Duration> got = ParseDuration(text, "--replace_after");
    ASSERT_FALSE(got.ok()) << text << " parsed as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(got.status().message());
    EXPECT_NE(message.find("--replace_after \"" + text + "\" is not a duration"), std::string::npos)
        << message;
    EXPECT_NE(message.find("(e.g. 90s, 1.5h, 1d12h)"), std::string::npos) << message;
  }
  EXPECT_EQ(ParseDuration("-5m", "--since").status().message(),
            "--since \"-5m\" is not a duration: it must not be negative (e.g. 90s, 1.5h, 1d12h)");
  EXPECT_EQ(
      ParseDuration("99999999999d", "--since").status().message(),
      "--since \"99999999999d\" is not a duration: it is longer than 100 years (e.g. 90s, 1.5h, "
      "1d12h)");
  EXPECT_FALSE(ParseDuration("9999999999999999999999h", "--since").ok());
  EXPECT_TRUE(ParseDuration("36525d", "--since").ok());
  EXPECT_FALSE(ParseDuration("36525d1ns", "--since").ok());
}

TEST(DurationTest, FormatReadsBack) {
  for (absl::Duration d :
       {absl::ZeroDuration(), absl::Seconds(90), absl::Hours(36), absl::Hours(24 * 90),
        absl::Milliseconds(1500), absl::Hours(24), absl::Hours(24) + absl::Milliseconds(5)}) {
    absl::StatusOr<absl::Duration> back = ParseDuration(DurationToString(d), "");
    ASSERT_TRUE(back.ok()) << DurationToString(d) << ": " << back.status();
    EXPECT_EQ(*back, d) << DurationToString(d);
  }
  EXPECT_EQ(DurationToString(absl::Hours(36)), "1d12h");
  EXPECT_EQ(DurationToString(absl::Hours(24 * 90)), "90d");
  EXPECT_EQ(DurationToString(absl::Seconds(90)), "1m30s");
}

TEST(DurationTest, AbslFlagOfTheSameGrammar) {
  absl::FlagSaver saver;
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag("test_replace_after");
  ASSERT_NE(flag, nullptr);
  EXPECT_EQ(flag->DefaultValue(), "1h");
  std::string error;
  ASSERT_TRUE(flag->ParseFrom("1d", &error)) << error;
  EXPECT_EQ(absl::Duration(absl::GetFlag(FLAGS_test_replace_after)), absl::Hours(24));
  ASSERT_TRUE(flag->ParseFrom("1d12h", &error)) << error;
  EXPECT_EQ(absl::Duration(absl::GetFlag(FLAGS_test_replace_after)), absl::Hours(36));
  EXPECT_EQ(flag->CurrentValue(), "1d12h");

  EXPECT_FALSE(flag->ParseFrom("-1h", &error));
  EXPECT_NE(error.find("\"-1h\" is not a duration: it must not be negative"), std::string::npos)
      << error;
  EXPECT_FALSE(flag->ParseFrom("soon", &error));
  EXPECT_NE(error.find("\"soon\" is not a duration (e.g. 90s, 1.5h, 1d12h)"), std::string::npos)
      << error;
  EXPECT_EQ(absl::Duration(absl::GetFlag(FLAGS_test_replace_after)), absl::Hours(36));
}

}  // namespace
}  // namespace slotkeeper
