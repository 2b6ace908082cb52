#include "replicator/sync/slot_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

using ::testing::ElementsAre;

std::string FreshSlot(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  EXPECT_EQ(system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()), 0);
  return dir;
}

void Write(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

TEST(SlotLayoutTest, UsersAreTheDirectoriesWithValidNames) {
  const std::string slot = FreshSlot("layout_users");
  absl::StatusOr<Fd> root = OpenRootDir(slot);
  ASSERT_TRUE(root.ok());
  // No users/ yet: a spare slot has no users.
  absl::StatusOr<std::vector<std::string>> users = ListSlotUsers(root->get());
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_TRUE(users->empty());

  for (const char* d : {"bob", "alice", ".hidden", "-dash"}) {
    ASSERT_EQ(system(absl::StrCat("mkdir -p '", slot, "/users/", d, "'").c_str()), 0);
  }
  Write(slot + "/users/file", "not a user");
  ASSERT_EQ(symlink((slot + "/users/bob").c_str(), (slot + "/users/link").c_str()), 0);
  users = ListSlotUsers(root->get());
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_THAT(*users, ElementsAre("alice", "bob"));
}

TEST(SlotLayoutTest, UserDirectoriesAreOpenedByValidNameOnly) {
  const std::string slot = FreshSlot("layout_user_dir");
  absl::StatusOr<Fd> root = OpenRootDir(slot);
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(absl::IsNotFound(OpenUserDir(root->get(), "alice", false).status()));
  EXPECT_TRUE(absl::IsNotFound(OpenUsersDir(root->get()).status()));
  ASSERT_TRUE(OpenUserDir(root->get(), "alice", /*create=*/true).ok());
  struct stat st;
  EXPECT_EQ(stat((slot + "/users/alice").c_str(), &st), 0);
  EXPECT_TRUE(OpenUsersDir(root->get()).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(OpenUserDir(root->get(), "..", true).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenUserDir(root->get(), "a/b", true).status()));
  EXPECT_EQ(UserDirPath("alice"), "users/alice");
}

TEST(SlotLayoutTest, TheStoreMarkerRoundTrips) {
  const std::string slot = FreshSlot("layout_marker");
  absl::StatusOr<Fd> root = OpenRootDir(slot);
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(absl::IsNotFound(ReadStoreMarker(root->get()).status()));
  ASSERT_TRUE(WriteStoreMarker(root->get(), "store-a", DefaultTargetFs()).ok());
  absl::StatusOr<std::string> store = ReadStoreMarker(root->get());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*store, "store-a");
  std::ifstream in(slot + "/" + std::string(kStoreMarker));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "store-a\n");
  // Written by hand (an operator, a test harness): whitespace is trimmed.
  Write(slot + "/" + std::string(kStoreMarker), "  store-b \n");
  EXPECT_EQ(*ReadStoreMarker(root->get()), "store-b");
  // A symlinked marker is never followed.
  unlink((slot + "/" + std::string(kStoreMarker)).c_str());
  Write(slot + "/elsewhere", "store-c\n");
  ASSERT_EQ(
      symlink((slot + "/elsewhere").c_str(), (slot + "/" + std::string(kStoreMarker)).c_str()), 0);
  EXPECT_FALSE(ReadStoreMarker(root->get()).ok());
}

TEST(SlotLayoutTest, EnsureStoreMarkerWritesOnlyAChange) {
  const std::string slot = FreshSlot("layout_ensure_marker");
  absl::StatusOr<Fd> root = OpenRootDir(slot);
  ASSERT_TRUE(root.ok());
  const std::string marker = slot + "/" + std::string(kStoreMarker);
  auto inode = [&marker]() {
    struct stat st;
    return stat(marker.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  ASSERT_TRUE(EnsureStoreMarker(root->get(), "store-a", DefaultTargetFs()).ok());
  EXPECT_EQ(*ReadStoreMarker(root->get()), "store-a");
  const ino_t first = inode();
  ASSERT_NE(first, 0u);
  // The same store: the file is left as it is (a rewrite renames a new one in).
  ASSERT_TRUE(EnsureStoreMarker(root->get(), "store-a", DefaultTargetFs()).ok());
  EXPECT_EQ(inode(), first);
  // Another store: rewritten.
  ASSERT_TRUE(EnsureStoreMarker(root->get(), "store-b", DefaultTargetFs()).ok());
  EXPECT_EQ(*ReadStoreMarker(root->get()), "store-b");
  EXPECT_NE(inode(), first);
}

}  // namespace
}  // namespace slotkeeper::sync
