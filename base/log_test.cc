#include "base/log.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(LogTest, TextLineHasTimeLevelProgramAndComponent) {
  std::ostringstream out;
  InitLogging({.program = "slotmgrd", .min_level = LogLevel::kInfo, .json = false, .sink = &out});
  LogWarning("failover", "store st1: promoting imap2/s1");
  EXPECT_THAT(out.str(), MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z W slotmgrd "
                                      "failover: store st1: promoting imap2/s1\n"));
}

TEST(LogTest, LevelsBelowTheMinimumAreDropped) {
  std::ostringstream out;
  InitLogging({.program = "replicatord", .min_level = LogLevel::kWarning, .sink = &out});
  LogInfo("sync", "not shown");
  LogDebug("sync", "not shown either");
  LogError("sync", "shown");
  EXPECT_EQ(out.str().find("not shown"), std::string::npos);
  EXPECT_THAT(out.str(), HasSubstr(" E replicatord sync: shown"));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
}

TEST(LogTest, JsonLinesEscapeTheMessage) {
  std::ostringstream out;
  InitLogging({.program = "slotctl", .min_level = LogLevel::kDebug, .json = true, .sink = &out});
  LogDebug("agent", "a \"quoted\"\nline\x01");
  EXPECT_THAT(out.str(),
              MatchesRegex(R"(\{"time":"[0-9T:.-]+Z","level":"debug","program":"slotctl",)"
                           R"("component":"agent","msg":"a \\"quoted\\"\\nline\\u0001"\}
)"));
}

TEST(LogTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  absl::StatusOr<LogLevel> bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"loud\""));
}

}  // namespace
}  // namespace slotkeeper
