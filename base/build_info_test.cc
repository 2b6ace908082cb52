#include "base/build_info.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include "gtest/gtest.h"

namespace slotkeeper {
namespace {

TEST(BuildInfoTest, StampedLineNamesCommitAndDay) {
  const BuildInfo build{"0.5.0", "1a2b3c4d", "2026-12-02"};
  EXPECT_EQ(VersionLine("slotmgrd", build), "slotmgrd 0.5.0 (commit 1a2b3c4d, built 2026-12-02)");
  EXPECT_EQ(ProductVersion("replicatord", build), "replicatord/0.5.0+1a2b3c4d");
}

TEST(BuildInfoTest, UnstampedLineSaysSo) {
  const BuildInfo build{"0.5.0", "", ""};
  EXPECT_EQ(VersionLine("slotctl", build), "slotctl 0.5.0 (commit unknown (unstamped build))");
  EXPECT_EQ(ProductVersion("replicatord", build), "replicatord/0.5.0");
}

// The strings this test binary was built with: a version from VERSION, and
// either no commit (the default, unstamped build) or a commit and a day.
TEST(BuildInfoTest, ThisBuildCarriesTheVersionFile) {
  const BuildInfo build = ThisBuild();
  std::ifstream file(std::string(std::getenv("TEST_SRCDIR")) + "/slotkeeper/VERSION");
  std::string version_file;
  ASSERT_TRUE(std::getline(file, version_file)) << "VERSION is not in the runfiles";
  EXPECT_EQ(build.version, version_file);
  if (build.commit.empty()) {
    EXPECT_EQ(build.build_date, "");
  } else {
    EXPECT_TRUE(std::regex_match(build.commit, std::regex("[0-9a-f]{7,40}(-dirty)?")))
        << build.commit;
    EXPECT_TRUE(std::regex_match(build.build_date, std::regex(R"(\d{4}-\d{2}-\d{2})")))
        << build.build_date;
  }
}

}  // namespace
}  // namespace slotkeeper
