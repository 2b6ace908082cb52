#include "replicator/sync/dir_walker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// A fresh directory under TEST_TMPDIR.
std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  EXPECT_EQ(system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()), 0);
  return dir;
}

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

// Records what the walk shows it, enters every directory, sorts listings.
class Recorder : public DirVisitor {
 public:
  absl::Status Listed(const WalkDir& dir, std::vector<DirEntry>* entries) override {
    std::sort(entries->begin(), entries->end(),
              [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    events.push_back(absl::StrCat("list ", dir.rel, " @", dir.depth));
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    events.push_back("visit " + rel);
    return IsDirectory(dir.fd, e);
  }
  absl::Status Left(const WalkDir&, const DirEntry&, const std::string& rel) override {
    events.push_back("left " + rel);
    return absl::OkStatus();
  }
  absl::Status Unreadable(const std::string& rel, const absl::Status& error) override {
    events.push_back(absl::StrCat("unreadable ", rel, " ", absl::StatusCodeToString(error.code())));
    return absl::OkStatus();
  }
  std::vector<std::string> events;
};

TEST(DirWalkerTest, WalksDepthFirstWithPathsAndDepths) {
  const std::string root = FreshDir("walk_order");
  ASSERT_EQ(system(("mkdir -p '" + root + "/a/b' '" + root + "/c'").c_str()), 0);
  Touch(root + "/a/b/f");
  Touch(root + "/a/g");
  Touch(root + "/h");
  absl::StatusOr<Fd> fd = OpenRootDir(root);
  ASSERT_TRUE(fd.ok()) << fd.status();
  Recorder recorder;
  ASSERT_TRUE(WalkTree(fd->get(), &recorder).ok());
  EXPECT_THAT(recorder.events, ElementsAre("list  @0", "visit a", "list a @1", "visit a/b",
                                           "list a/b @2", "visit a/b/f", "left a/b", "visit a/g",
                                           "left a", "visit c", "list c @1", "left c", "visit h"));
}

TEST(DirWalkerTest, NeverFollowsASymlinkedDirectory) {
  const std::string root = FreshDir("walk_symlink");
  const std::string outside = FreshDir("walk_symlink_outside");
  Touch(outside + "/secret");
  ASSERT_EQ(symlink(outside.c_str(), (root + "/link").c_str()), 0);
  absl::StatusOr<Fd> fd = OpenRootDir(root);
  ASSERT_TRUE(fd.ok());

  // A visitor that asks to enter everything is refused at the open.
  class EnterAll : public Recorder {
    absl::StatusOr<bool> Visit(const WalkDir&, const DirEntry&, const std::string& rel) override {
      events.push_back("visit " + rel);
      return true;
    }
  } enter_all;
  ASSERT_TRUE(WalkTree(fd->get(), &enter_all).ok());
  EXPECT_THAT(enter_all.events,
              ElementsAre("list  @0", "visit link", "unreadable link FAILED_PRECONDITION"));
  // IsDirectory says no to the symlink itself.
  Recorder recorder;
  ASSERT_TRUE(WalkTree(fd->get(), &recorder).ok());
  EXPECT_THAT(recorder.events, ElementsAre("list  @0", "visit link"));
}

TEST(DirWalkerTest, ListedFiltersAndErrorsStopTheWalk) {
  const std::string root = FreshDir("walk_stop");
  ASSERT_EQ(system(("mkdir -p '" + root + "/d1' '" + root + "/d2'").c_str()), 0);
  Touch(root + "/d1/f");
  absl::StatusOr<Fd> fd = OpenRootDir(root);
  ASSERT_TRUE(fd.ok());

  class OnlyD2 : public Recorder {
    absl::Status Listed(const WalkDir& dir, std::vector<DirEntry>* entries) override {
      entries->erase(std::remove_if(entries->begin(), entries->end(),
                                    [](const DirEntry& e) { return e.name != "d2"; }),
                     entries->end());
      return Recorder::Listed(dir, entries);
    }
  } only_d2;
  ASSERT_TRUE(WalkTree(fd->get(), &only_d2).ok());
  EXPECT_THAT(only_d2.events, ElementsAre("list  @0", "visit d2", "list d2 @1", "left d2"));

  class StopAtD1 : public Recorder {
    absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                               const std::string& rel) override {
      if (rel == "d1/f") return absl::DataLossError("stop here");
      return Recorder::Visit(dir, e, rel);
    }
  } stop;
  absl::Status s = WalkTree(fd->get(), &stop);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_THAT(stop.events, ElementsAre("list  @0", "visit d1", "list d1 @1"));
}

TEST(DirWalkerTest, AnUnreadableDirectoryStopsTheWalkByDefault) {
  const std::string root = FreshDir("walk_unreadable");
  const std::string outside = FreshDir("walk_unreadable_outside");
  ASSERT_EQ(symlink(outside.c_str(), (root + "/link").c_str()), 0);
  absl::StatusOr<Fd> fd = OpenRootDir(root);
  ASSERT_TRUE(fd.ok());
  class EnterAllDefault : public DirVisitor {
    absl::StatusOr<bool> Visit(const WalkDir&, const DirEntry&, const std::string&) override {
      return true;
    }
  } visitor;
  EXPECT_TRUE(absl::IsFailedPrecondition(WalkTree(fd->get(), &visitor)));
}

TEST(DirWalkerTest, ReadDirAndOpenSubdir) {
  const std::string root = FreshDir("read_dir");
  ASSERT_EQ(mkdir((root + "/sub").c_str(), 0755), 0);
  Touch(root + "/file");
  absl::StatusOr<Fd> fd = OpenRootDir(root);
  ASSERT_TRUE(fd.ok());
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDir(fd->get());
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> names;
  for (const DirEntry& e : *entries) names.push_back(e.name);
  EXPECT_THAT(names, UnorderedElementsAre("sub", "file"));
  // Reading twice gives the same (the descriptor is not used up).
  EXPECT_EQ(ReadDir(fd->get())->size(), 2u);
  EXPECT_TRUE(OpenSubdir(fd->get(), "sub").ok());
  EXPECT_TRUE(absl::IsNotFound(OpenSubdir(fd->get(), "gone").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(OpenSubdir(fd->get(), "file").status()));
}

}  // namespace
}  // namespace slotkeeper::sync
