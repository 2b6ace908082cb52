#include "replicator/sync/maildir.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {
namespace {

std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  EXPECT_EQ(system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()), 0);
  return dir;
}

void Mkdirs(const std::string& root, std::initializer_list<const char*> dirs) {
  for (const char* d : dirs) {
    ASSERT_EQ(system(absl::StrCat("mkdir -p '", root, "/", d, "'").c_str()), 0);
  }
}

TEST(MaildirTest, UniqueKey) {
  EXPECT_EQ(MaildirUniqueKey("cur/123.host:2,RS"), "123.host");
  EXPECT_EQ(MaildirUniqueKey(".Sent/new/123.host"), "123.host");
  EXPECT_EQ(MaildirUniqueKey("dovecot.index"), "");
  EXPECT_TRUE(IsMaildirMessage(".Sent/cur/1:2,"));
  EXPECT_FALSE(IsMaildirMessage("cur"));
}

TEST(MaildirTest, MessageDirectoriesAreThoseOfAMaildirFolder) {
  const std::string user = FreshDir("maildir_rule");
  // The user directory and .Sent are Maildir folders; "archive" is not (no
  // cur), so its "new" and "tmp" are ordinary directories.
  Mkdirs(user, {"cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp", "archive/new",
                "archive/tmp/x"});
  absl::StatusOr<Fd> root = OpenRootDir(user);
  ASSERT_TRUE(root.ok());
  absl::StatusOr<Fd> sent = OpenDirBeneath(root->get(), ".Sent", false);
  absl::StatusOr<Fd> archive = OpenDirBeneath(root->get(), "archive", false);
  ASSERT_TRUE(sent.ok() && archive.ok());
  for (const char* d : {"cur", "new", "tmp"}) {
    EXPECT_TRUE(IsMessageDir(root->get(), d)) << d;
    EXPECT_TRUE(IsMessageDir(sent->get(), d)) << d;
  }
  EXPECT_FALSE(IsMessageDir(root->get(), ".Sent"));
  EXPECT_FALSE(IsMessageDir(archive->get(), "new"));
  EXPECT_FALSE(IsMessageDir(archive->get(), "tmp"));

  EXPECT_TRUE(IsDeliveryDir(root->get(), "tmp"));
  EXPECT_TRUE(IsDeliveryDir(sent->get(), "tmp"));
  EXPECT_FALSE(IsDeliveryDir(root->get(), "new"));
  EXPECT_FALSE(IsDeliveryDir(archive->get(), "tmp"));

  EXPECT_TRUE(IsInDeliveryDir(root->get(), "tmp"));
  EXPECT_TRUE(IsInDeliveryDir(root->get(), ".Sent/tmp"));
  EXPECT_FALSE(IsInDeliveryDir(root->get(), ""));
  EXPECT_FALSE(IsInDeliveryDir(root->get(), ".Sent/cur"));
  EXPECT_FALSE(IsInDeliveryDir(root->get(), "archive/tmp"));
  EXPECT_FALSE(IsInDeliveryDir(root->get(), "archive/tmp/x"));
}

}  // namespace
}  // namespace slotkeeper::sync
