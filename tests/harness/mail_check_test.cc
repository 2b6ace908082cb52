#include "tests/harness/mail_check.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

class MailCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(std::getenv("TEST_TMPDIR")) /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    Write(root_ / "a/users/alice/cur/1.M1.h:2,S", "hello");
    Write(root_ / "a/users/alice/new/2.M2.h", "world");
    Write(root_ / "a/users/alice/dovecot.index", "idx");
    Write(root_ / "a/users/alice/tmp/3.M3.h", "partial");
  }
  fs::path root_;
};

TEST_F(MailCheckTest, FlagChangesAndMovesAreNotDifferences) {
  Write(root_ / "b/users/alice/.Archive/cur/1.M1.h:2,RS", "hello");
  Write(root_ / "b/users/alice/cur/2.M2.h:2,", "world");
  Write(root_ / "b/users/alice/dovecot.index", "idx");
  auto a = ReadSlotContent((root_ / "a").string());
  auto b = ReadSlotContent((root_ / "b").string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(MessageCount(*a), 3u);  // tmp/ is not counted
  EXPECT_TRUE(MissingFrom(*a, *b).empty());
}

TEST_F(MailCheckTest, SyncTemporaryFilesAreNotMail) {
  Write(root_ / "a/users/alice/cur/.slotsync-123-4", "half a message");
  auto a = ReadSlotContent((root_ / "a").string());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(MessageCount(*a), 3u);
}

TEST_F(MailCheckTest, LostAndAlteredMessagesAreReported) {
  Write(root_ / "b/users/alice/cur/1.M1.h:2,S", "hellO");
  auto a = ReadSlotContent((root_ / "a").string());
  auto b = ReadSlotContent((root_ / "b").string());
  ASSERT_TRUE(a.ok() && b.ok());
  auto problems = MissingFrom(*a, *b);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0], "alice: file:dovecot.index missing");
  EXPECT_EQ(problems[1], "alice: maildir:1.M1.h differs");
  EXPECT_EQ(problems[2], "alice: maildir:2.M2.h missing");
}

}  // namespace
}  // namespace slotkeeper::testing
