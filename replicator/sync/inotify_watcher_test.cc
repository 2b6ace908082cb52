// InotifyWatcher and ChangeTracker on a slot whose users/ appears only after
// watching began: the normal case for a spare slot that is then seeded (a new
// replica, later promoted) or filled with mail.
#include "replicator/sync/inotify_watcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "replicator/sync/change_tracker.h"

namespace slotkeeper::sync {
namespace {

namespace fs = std::filesystem;

std::string FreshSlot(const std::string& name) {
  const fs::path p = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

void Write(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "Subject: hi\n\nbody\n";
}

TEST(InotifyWatcherTest, WatchesUsersOnceItAppears) {
  const std::string slot = FreshSlot("late_users");
  auto w = InotifyWatcher::Start(slot);
  ASSERT_TRUE(w.ok()) << w.status();
  // No users/ yet: nothing can be watched, so the caller must scan.
  EXPECT_TRUE((*w)->Drain().rescan_all);
  Write(fs::path(slot) / "users/alice/new/m1");
  // users/ found: watched from now on; what came before needs one scan.
  InotifyWatcher::Changes first = (*w)->Drain();
  EXPECT_TRUE(first.rescan_all);
  EXPECT_GE((*w)->watch_count(), 3u);  // users, alice, new
  // From here on inotify reports changes by user, without scans.
  Write(fs::path(slot) / "users/alice/new/m2");
  InotifyWatcher::Changes next = (*w)->Drain();
  EXPECT_FALSE(next.rescan_all);
  EXPECT_EQ(next.users, std::set<std::string>{"alice"});
  fs::remove(fs::path(slot) / "users/alice/new/m1");
  EXPECT_EQ((*w)->Drain().users, std::set<std::string>{"alice"});
}

// A delivery is written in tmp/ and renamed into new/: only the rename is a
// change (tmp/ is never replicated), also in a Maildir folder created after
// the watch began. A "tmp" outside a Maildir folder is an ordinary directory.
TEST(InotifyWatcherTest, DeliveryDirectoriesAreNotWatched) {
  const std::string slot = FreshSlot("delivery_dirs");
  const fs::path alice = fs::path(slot) / "users/alice";
  for (const char* d : {"cur", "new", "tmp", "notes/tmp"}) fs::create_directories(alice / d);
  auto w = InotifyWatcher::Start(slot);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE((*w)->Drain().rescan_all);
  const size_t watches = (*w)->watch_count();
  EXPECT_EQ(watches, 6u);  // users, alice, cur, new, notes, notes/tmp; not tmp

  Write(alice / "tmp/m1");
  EXPECT_TRUE((*w)->Drain().users.empty()) << "a write in tmp/ was announced";
  fs::rename(alice / "tmp/m1", alice / "new/m1");
  InotifyWatcher::Changes delivered = (*w)->Drain();
  EXPECT_EQ(delivered.users, std::set<std::string>{"alice"});
  EXPECT_EQ(delivered.paths["alice"], std::set<std::string>{"new/m1"});
  EXPECT_TRUE(delivered.untracked.empty());

  // A folder made after the watch: cur/ first, so its tmp/ is a delivery
  // directory when it appears.
  for (const char* d : {".Sent/cur", ".Sent/new", ".Sent/tmp"}) {
    fs::create_directories(alice / d);
    (*w)->Drain();
  }
  EXPECT_EQ((*w)->watch_count(), watches + 3);  // .Sent, its cur and new
  Write(alice / ".Sent/tmp/m2");
  EXPECT_TRUE((*w)->Drain().users.empty()) << "a write in .Sent/tmp/ was announced";
  Write(alice / "notes/tmp/x");
  EXPECT_EQ((*w)->Drain().paths["alice"], std::set<std::string>{"notes/tmp/x"});
}

TEST(ChangeTrackerTest, UsersCreatedAfterWatchStartAreTracked) {
  const std::string slot = FreshSlot("tracker_late_users");
  FakeClock clock;
  ChangeTracker tracker(&clock, absl::Minutes(10));
  ASSERT_TRUE(tracker.Watch("s1", slot).ok());
  int root = open(slot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  auto gens = tracker.Refresh(root, "s1");  // the first refresh scans in full
  ASSERT_TRUE(gens.ok()) << gens.status();
  EXPECT_TRUE(gens->empty());

  Write(fs::path(slot) / "users/alice/new/m1");
  gens = tracker.Refresh(root, "s1");
  ASSERT_TRUE(gens.ok());
  const uint64_t g1 = gens->at("alice").generation;

  // A delivery long before the next full scan. Give new/ a distinct mtime
  // so that the scan path cannot miss it within one timestamp tick.
  const fs::path new_dir = fs::path(slot) / "users/alice/new";
  Write(new_dir / "m2");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'900'000'000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, new_dir.c_str(), times, 0), 0);
  gens = tracker.Refresh(root, "s1");
  ASSERT_TRUE(gens.ok());
  EXPECT_GT(gens->at("alice").generation, g1) << "a delivery went unnoticed";
  const uint64_t g2 = gens->at("alice").generation;

  // And the emptying of the user.
  fs::remove(new_dir / "m1");
  fs::remove(new_dir / "m2");
  times[1].tv_sec = 1'900'000'100;
  ASSERT_EQ(utimensat(AT_FDCWD, new_dir.c_str(), times, 0), 0);
  gens = tracker.Refresh(root, "s1");
  ASSERT_TRUE(gens.ok());
  EXPECT_GT(gens->at("alice").generation, g2) << "a deletion went unnoticed";
  close(root);
}

TEST(ChangeTrackerTest, ScansWalkOnlyDirectoriesThatCanHoldFolders) {
  const std::string slot = FreshSlot("tracker_leaf_rule");
  const fs::path user = fs::path(slot) / "users/alice";
  for (const char* d : {"cur/sub", "new", "tmp", "archive/new/sub"}) {
    fs::create_directories(user / d);
  }
  FakeClock clock;
  ChangeTracker tracker(&clock, absl::Hours(1));  // scan mode; only the first scan is full
  int root = open(slot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  auto gen = [&]() {
    absl::StatusOr<UserGeneration> g = tracker.RefreshUser(root, "s1", "alice");
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? g->generation : 0;
  };
  gen();  // full
  const uint64_t g1 = gen();
  EXPECT_EQ(gen(), g1);
  // A Maildir message directory (cur of a folder) is not read outside a full
  // scan: what changes below it without touching its own mtime waits.
  fs::create_directories(user / "cur/sub/deeper");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (user / "cur/sub").c_str(), times, 0), 0);
  EXPECT_EQ(gen(), g1);
  // "new" outside a Maildir folder ("archive" has no cur) is an ordinary
  // directory: it is walked like any other.
  fs::create_directories(user / "archive/new/sub/deeper");
  ASSERT_EQ(utimensat(AT_FDCWD, (user / "archive/new/sub").c_str(), times, 0), 0);
  EXPECT_GT(gen(), g1);
  close(root);
}

}  // namespace
}  // namespace slotkeeper::sync
