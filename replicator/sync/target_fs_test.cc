#include "replicator/sync/target_fs.h"

#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/test_files.h"

namespace slotkeeper::sync {
namespace {

TEST(TargetFsTest, RenameNoReplaceNeverReplaces) {
  const std::string dir = Tmp() + "/no_replace";
  MkdirP(dir);
  WriteFile(dir + "/a", "a");
  WriteFile(dir + "/b", "b");
  absl::StatusOr<Fd> fd = OpenRootDir(dir);
  ASSERT_TRUE(fd.ok());
  absl::Status s = DefaultTargetFs()->RenameNoReplace(fd->get(), "a", fd->get(), "b");
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(ReadFile(dir + "/a"), "a");
  EXPECT_EQ(ReadFile(dir + "/b"), "b");
  EXPECT_TRUE(DefaultTargetFs()->RenameNoReplace(fd->get(), "a", fd->get(), "c").ok());
  EXPECT_EQ(ReadFile(dir + "/c"), "a");
  EXPECT_FALSE(Exists(dir + "/a"));
}

}  // namespace
}  // namespace slotkeeper::sync
