#include "replicator/sync/target_fs.h"

#include <sys/stat.h>
#include <unistd.h>

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

// The agent runs as root: a metadata fix must never reach through a symlink
// put where a file was (a chmod of /etc/shadow to 0644).
TEST(TargetFsTest, SetMetadataNeverFollowsASymlink) {
  const std::string dir = Tmp() + "/metadata_symlink";
  MkdirP(dir);
  WriteFile(dir + "/outside", "secret", 1700000000, 0600);
  ASSERT_EQ(symlink((dir + "/outside").c_str(), (dir + "/f").c_str()), 0);
  absl::StatusOr<Fd> fd = OpenRootDir(dir);
  ASSERT_TRUE(fd.ok());
  absl::Status s = DefaultTargetFs()->SetMetadata(fd->get(), "f", 0, 0644);
  EXPECT_FALSE(s.ok());
  struct stat st;
  ASSERT_EQ(stat((dir + "/outside").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
}

// A FIFO where a part file was: refused at once (a write to it would block
// the sync once the pipe is full; an open for reading, forever).
TEST(TargetFsTest, OpenForAppendOpensOnlyRegularFiles) {
  const std::string dir = Tmp() + "/append_fifo";
  MkdirP(dir);
  ASSERT_EQ(mkfifo((dir + "/part").c_str(), 0600), 0);
  ASSERT_EQ(symlink("/etc/hostname", (dir + "/link").c_str()), 0);
  absl::StatusOr<Fd> fd = OpenRootDir(dir);
  ASSERT_TRUE(fd.ok());
  absl::StatusOr<Fd> part = DefaultTargetFs()->OpenForAppend(fd->get(), "part");
  EXPECT_TRUE(absl::IsFailedPrecondition(part.status())) << part.status();
  EXPECT_NE(part.status().message().find("not a regular file"), std::string::npos) << part.status();
  EXPECT_FALSE(DefaultTargetFs()->OpenForAppend(fd->get(), "link").ok());
  WriteFile(dir + "/regular", "abc");
  EXPECT_TRUE(DefaultTargetFs()->OpenForAppend(fd->get(), "regular").ok());
}

}  // namespace
}  // namespace slotkeeper::sync
