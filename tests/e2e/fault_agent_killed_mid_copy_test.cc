// Fault test: the agent doing a re-replication is killed
// (SIGKILL) in the middle of the copy and started again.
//
// A replica's drive unit is declared lost, so the coordinator places a new
// replica on the host without a copy and starts a re-replication there. The
// copy is slowed down (replicatord --sync_bandwidth_bytes_per_second) so that
// the target agent can be killed once some users are complete on disk and
// others are not. After the restart the task completes, and the files of the
// users that were complete before the kill are the very same files (inode
// and modification time unchanged): finished users were not copied again.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kUsers = 24;
constexpr int kMessages = 480;  // about 26 MB

struct FileId {
  ino_t ino = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileId& o) const { return ino == o.ino && mtime_ns == o.mtime_ns; }
};

// Every regular file under the user's directory, by path.
std::map<std::string, FileId> FileIds(const std::string& user_dir) {
  std::map<std::string, FileId> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(user_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (!it->is_regular_file(ec) || lstat(it->path().c_str(), &st) != 0) continue;
    out[it->path().string()] = {
        st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  return out;
}

// Users whose every message is on the target with the reference content.
std::vector<std::string> CompleteUsers(const std::string& target_slot,
                                       const SlotContent& reference) {
  std::vector<std::string> done;
  auto content = ReadSlotContent(target_slot);
  if (!content.ok()) return done;
  for (const auto& [user, messages] : reference) {
    auto it = content->find(user);
    if (it == content->end()) continue;
    SlotContent one = {{user, messages}};
    SlotContent have = {{user, it->second}};
    if (MissingFrom(one, have).empty()) done.push_back(user);
  }
  return done;
}

TEST(FaultAgentKilledMidCopyTest, ResumesWithoutRecopyingFinishedUsers) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root): " << st;
  }
  // About 10 s for the store's 26 MB, so that the kill lands mid-copy.
  const ClusterOptions options = SlowCopyOptions("fault_agent_killed");
  auto created = StartCluster(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, kUsers, kMessages);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const SlotContent& content = reference->at("st1");

  // Declare the unit of one replica lost: a re-replication to the host
  // without a copy starts.
  auto st1 = c.Store("st1");
  ASSERT_TRUE(st1.ok());
  v1::SlotRef replica;
  for (const auto& cp : st1->copies()) {
    if (cp.role() == v1::SLOT_REPLICA) replica = cp.slot();
  }
  ASSERT_FALSE(replica.host().empty()) << st1->ShortDebugString();
  v1::MarkLostResponse lost;
  {
    grpc::ClientContext ctx;
    v1::MarkLostRequest req;
    req.set_host(replica.host());
    req.set_unit(replica.slot().substr(0, replica.slot().find('s')));
    req.set_reason("fault test: replica unit lost");
    grpc::Status st = c.api().MarkLost(&ctx, req, &lost);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(lost.tasks_created_size(), 1);
  const std::string task_id = lost.tasks_created(0);
  auto tasks = ListAllTasks(c);
  ASSERT_TRUE(tasks.ok());
  v1::SlotRef target;
  for (const auto& t : *tasks) {
    if (t.id() == task_id) target = t.target();
  }
  ASSERT_FALSE(target.host().empty());
  const std::string target_dir = c.SlotPath(target.host(), target.slot());
  c.Log(absl::StrCat("task ", task_id, " copies st1 to ", target.host(), "/", target.slot()));

  // Wait until a quarter of the users are complete on the target's disk.
  std::vector<std::string> complete;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    complete = CompleteUsers(target_dir, content);
    if (complete.size() >= kUsers / 4) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(complete.size(), static_cast<size_t>(kUsers / 4)) << "the copy did not progress";
  std::map<std::string, FileId> before;
  for (const std::string& user : complete) {
    for (auto& [path, id] : FileIds(target_dir + "/users/" + user)) before[path] = id;
  }
  c.KillAgent(target.host());
  // Taken after the kill: nothing can change on the target any more.
  const size_t complete_at_kill = CompleteUsers(target_dir, content).size();
  c.Log(absl::StrCat("killed ", target.host(), "'s agent with ", complete.size(), "/", kUsers,
                     " users complete on the target (", before.size(), " files)"));
  ASSERT_LT(complete_at_kill, static_cast<size_t>(kUsers))
      << "the copy finished before the kill; slow it down further";
  auto mid = ListAllTasks(c);
  ASSERT_TRUE(mid.ok());
  for (const auto& t : *mid) {
    if (t.id() == task_id) {
      ASSERT_EQ(t.state(), v1::TASK_RUNNING) << t.ShortDebugString();
    }
  }

  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(c.StartAgent(target.host()).ok());
  const absl::Time restarted = absl::Now();

  // The task completes (verified), the store is healthy with three copies.
  absl::Status done = c.WaitForStore(
      "st1",
      [](const v1::StoreInfo& s) {
        if (s.state() != v1::STORE_HEALTHY || s.copies_size() != 3) return false;
        for (const auto& cp : s.copies()) {
          if (cp.role() != v1::SLOT_MASTER && cp.role() != v1::SLOT_REPLICA) return false;
        }
        return true;
      },
      absl::Seconds(90), "healthy with three copies after the restart");
  ASSERT_TRUE(done.ok()) << done;
  c.Log(absl::StrCat("re-replication completed ", absl::FormatDuration(absl::Now() - restarted),
                     " after the restart"));
  auto finished = ListAllTasks(c);
  ASSERT_TRUE(finished.ok());
  for (const auto& t : *finished) {
    if (t.id() == task_id) {
      EXPECT_EQ(t.state(), v1::TASK_DONE) << t.ShortDebugString();
    }
  }

  // Finished users were not copied again: the same files, untouched.
  std::map<std::string, FileId> after;
  for (const std::string& user : complete) {
    for (auto& [path, id] : FileIds(target_dir + "/users/" + user)) after[path] = id;
  }
  std::vector<std::string> rewritten;
  for (const auto& [path, id] : before) {
    auto it = after.find(path);
    if (it == after.end() || !(it->second == id)) rewritten.push_back(path);
  }
  EXPECT_TRUE(rewritten.empty()) << rewritten.size() << " of " << before.size()
                                 << " files of finished users were rewritten, e.g. "
                                 << rewritten.front();
  EXPECT_EQ(after.size(), before.size());

  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
}

}  // namespace
}  // namespace slotkeeper::testing
