#include "replicator/sync/paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"

namespace slotkeeper::sync {
namespace {

TEST(ValidateUserNameTest, AcceptsOrdinaryNames) {
  EXPECT_TRUE(ValidateUserName("alice").ok());
  EXPECT_TRUE(ValidateUserName("bob.smith@example.org").ok());
  EXPECT_TRUE(ValidateUserName(std::string(model::kMaxNameBytes, 'a')).ok());
}

TEST(ValidateUserNameTest, RefusesEscapes) {
  EXPECT_FALSE(ValidateUserName("").ok());
  EXPECT_FALSE(ValidateUserName("a/b").ok());
  EXPECT_FALSE(ValidateUserName(".").ok());
  EXPECT_FALSE(ValidateUserName("..").ok());
  EXPECT_FALSE(ValidateUserName(".hidden").ok());
  EXPECT_FALSE(ValidateUserName("tab\there").ok());
  EXPECT_FALSE(ValidateUserName(std::string(256, 'a')).ok());
  EXPECT_NE(ValidateUserName("a/b").message().find("'/'"), std::string::npos);
}

TEST(ValidateUserNameTest, IsTheClustersNameRule) {
  // The data path accepts exactly the user names the rest of the cluster
  // accepts (one rule in proto/model_util.h), e.g. no leading '-' or space.
  for (const char* name : {"alice", "-alice", "al ice", "al\x7fice", "alice@example.org"}) {
    EXPECT_EQ(ValidateUserName(name).ok(), model::ValidateName(model::NameKind::kUser, name).ok())
        << name;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateUserName("-alice")));
}

TEST(ValidateRelativePathTest, AcceptsMaildirPaths) {
  EXPECT_TRUE(ValidateRelativePath("cur/123.abc:2,S").ok());
  EXPECT_TRUE(ValidateRelativePath(".Sent/new/1").ok());
}

TEST(ValidateRelativePathTest, RefusesEscapes) {
  EXPECT_FALSE(ValidateRelativePath("").ok());
  EXPECT_FALSE(ValidateRelativePath("/etc/passwd").ok());
  EXPECT_FALSE(ValidateRelativePath("../other/cur/1").ok());
  EXPECT_FALSE(ValidateRelativePath("cur/../../x").ok());
  EXPECT_FALSE(ValidateRelativePath("cur//x").ok());
  EXPECT_FALSE(ValidateRelativePath("cur/./x").ok());
  EXPECT_FALSE(ValidateRelativePath("cur/").ok());
  EXPECT_FALSE(ValidateRelativePath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateRelativePath("cur/.slotsync-1-2").ok());
}

// Names from a peer end up in logs, terminals and other tools' input:
// control characters (a newline forging a log line, an escape sequence)
// and names the filesystem cannot hold are refused, each error naming the
// problem.
TEST(ValidateRelativePathTest, RefusesControlCharactersAndOverlongNames) {
  for (const std::string bad : {"cur/1\n.h:2,S", "cur/\x1b[2J", "cur/a\x7f", "\t/x"}) {
    absl::Status s = ValidateRelativePath(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_NE(s.message().find("control character"), std::string::npos) << s;
  }
  absl::Status s = ValidateRelativePath("cur/" + std::string(256, 'a'));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("255"), std::string::npos) << s;
  EXPECT_TRUE(ValidateRelativePath("cur/" + std::string(255, 'a')).ok());
  // UTF-8 names (folders in other languages) stay valid.
  EXPECT_TRUE(ValidateRelativePath(".Entw\xc3\xbcrfe/cur/1").ok());
}

TEST(OpenDirBeneathTest, RefusesSymlinkedComponent) {
  std::string base = std::string(getenv("TEST_TMPDIR")) + "/beneath";
  mkdir(base.c_str(), 0755);
  mkdir((base + "/real").c_str(), 0755);
  ASSERT_EQ(symlink("/etc", (base + "/link").c_str()), 0);
  absl::StatusOr<Fd> root = OpenRootDir(base);
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(OpenDirBeneath(root->get(), "real", false).ok());
  absl::StatusOr<Fd> bad = OpenDirBeneath(root->get(), "link", false);
  EXPECT_TRUE(absl::IsFailedPrecondition(bad.status())) << bad.status();
  EXPECT_FALSE(OpenDirBeneath(root->get(), "real/../link", false).ok());
  EXPECT_FALSE(OpenDirBeneath(root->get(), "link/ssl", true).ok());
}

}  // namespace
}  // namespace slotkeeper::sync
