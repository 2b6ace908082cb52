// Fault test: a replica's filesystem fills up in the middle of a big copy
// (another program's file grows until nothing is left).
//
// The copy fails with ENOSPC part-way. Nothing the replica held is lost and
// no message on it is truncated: each is absent or complete with the
// master's content (partial transfers live only in temporary files). Once
// the space is freed the sync resumes by itself and the replica ends with
// exactly the master's content.
//
// The agents' fetch rate is limited (--sync_bandwidth_bytes_per_second) so
// that the big copy takes seconds and the disk can be filled while it runs;
// the drive units are small loop images (96 MiB).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/data_safety.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCatchUpMs = 1000;
constexpr int64_t kBandwidth = 4 << 20;  // bytes/s, per agent
constexpr int kBig = 32;                 // messages of 1 MiB

TEST(FaultReplicaDiskFullTest, ACopyInterruptedByAFullDiskLosesNothingAndResumes) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("replica_disk_full", absl::Seconds(3), kCatchUpMs);
  options.slots_per_unit = 1;
  options.unit_bytes = 96ull << 20;
  options.slot_capacity_bytes = 80ull << 20;
  options.agent_flags = {absl::StrCat("--sync_bandwidth_bytes_per_second=", kBandwidth)};
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = CreateStoreInSync(c, /*messages=*/100);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const SlotContent& ref = reference->at("st1");
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok());
  const std::string replica = ReplicasOf(*store).at(0);
  const std::string replica_dir = c.SlotPath(HostOf(replica), SlotOf(replica));
  const std::string replica_mount = c.UnitMount(HostOf(replica), "du1");

  // The big copy: 32 MiB of new mail on the master.
  const std::string master_dir = c.SlotPath("imap1", "du1s1");
  auto big = DeliverMessages(master_dir, "bigmail", kBig, "big", 1 << 20);
  ASSERT_TRUE(big.ok()) << big.status();
  std::fprintf(stderr, "figure: delivered %d x 1 MiB; %s has %llu MiB free\n", kBig,
               replica.c_str(), static_cast<unsigned long long>(FreeBytes(replica_mount) >> 20));

  // Once an eighth of it is written (temporaries included), the disk fills.
  const std::string big_dir = replica_dir + "/users/bigmail";
  uint64_t written = 0;
  const absl::Time copy_deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < copy_deadline) {
    written = BytesUnder(big_dir);
    if (written >= (kBig << 20) / 8) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(written, static_cast<uint64_t>(kBig << 20) / 8) << "the big copy did not start";
  ASSERT_TRUE(FillFilesystem(replica_mount, "filler").ok());
  const absl::Time filled = absl::Now();
  written = BytesUnder(big_dir);
  ASSERT_LT(written, static_cast<uint64_t>(kBig) << 20)
      << "the big copy ended before the disk could be filled";
  std::fprintf(stderr,
               "figure: filled %s's filesystem when %llu KiB of the %d MiB copy were written; "
               "%llu KiB free\n",
               replica.c_str(), static_cast<unsigned long long>(written >> 10), kBig,
               static_cast<unsigned long long>(FreeBytes(replica_mount) >> 10));

  // While the disk is full: the other replica completes, this one stops
  // short. Whatever it holds is complete.
  auto other_done = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60), {replica});
  ASSERT_TRUE(other_done.ok()) << other_done.status();
  absl::SleepFor(absl::Milliseconds(3 * kCatchUpMs));  // more attempts on the full disk
  auto master_content = ReadSlotContent(master_dir);
  ASSERT_TRUE(master_content.ok());
  auto stuck = ReadWhileSyncing(replica_dir);
  ASSERT_TRUE(stuck.ok()) << stuck.status();
  EXPECT_TRUE(MissingFrom(ref, *stuck).empty())
      << "lost mail it held: " << absl::StrJoin(MissingFrom(ref, *stuck), "\n");
  int complete = 0;
  int wrong = 0;
  for (const auto& [key, hash] : (*stuck)["bigmail"]) {
    auto m = big->at("bigmail").find(key);
    if (m != big->at("bigmail").end() && m->second == hash) {
      ++complete;
    } else {
      ++wrong;
      ADD_FAILURE() << replica << ": bigmail " << key << " is not the master's (truncated?)";
    }
  }
  EXPECT_LT(complete, kBig) << "the disk filled after the copy ended: nothing was interrupted";
  auto during = c.Store("st1");
  ASSERT_TRUE(during.ok());
  const v1::Copy* cp = CopyAt(*during, replica);
  ASSERT_NE(cp, nullptr);
  std::fprintf(stderr,
               "figure: on the full disk %s holds %d of %d big messages complete, %d truncated or "
               "wrong; in sync %s (%s)\n",
               replica.c_str(), complete, kBig, wrong, cp->in_sync() ? "yes" : "no",
               cp->in_sync() ? "" : cp->out_of_sync_reason().c_str());

  // Space freed: the sync resumes and ends with the master's content.
  ASSERT_TRUE(fs::remove(fs::path(replica_mount) / "filler"));
  const absl::Time freed = absl::Now();
  std::fprintf(stderr, "freed the filler (%s after the disk filled); %llu MiB free\n",
               absl::FormatDuration(freed - filled).c_str(),
               static_cast<unsigned long long>(FreeBytes(replica_mount) >> 20));
  auto matched = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(90));
  ASSERT_TRUE(matched.ok()) << matched.status();
  std::fprintf(stderr, "figure: %s matched the master %s after the space was freed\n",
               replica.c_str(), absl::FormatDuration(absl::Now() - freed).c_str());
  ASSERT_TRUE(WaitForReplicasInSync(c, "st1", absl::Seconds(60)).ok());
  auto final_replica = ReadSlotContent(replica_dir);
  auto final_master = ReadSlotContent(master_dir);
  ASSERT_TRUE(final_replica.ok() && final_master.ok());
  EXPECT_EQ(*final_replica, *final_master);
  // No temporary left behind in the users' directories.
  int temporaries = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(fs::path(replica_dir) / "users", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (absl::StartsWith(it->path().filename().string(), ".slotsync-")) ++temporaries;
  }
  EXPECT_EQ(temporaries, 0);

  SlotContent all = ref;
  all["bigmail"] = big->at("bigmail");
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, {{"st1", all}})));
  std::fprintf(stderr, "figure: %zu messages on every copy, 0 lost, %d temporaries; test took %s\n",
               MessageCount(all), temporaries, absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
