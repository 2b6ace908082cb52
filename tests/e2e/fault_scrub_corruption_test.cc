// Fault test: silent corruption of a replica's message. One byte of the
// file is changed on the block device under the filesystem (the agent and
// the filesystem see nothing: size, mtime and ctime stay), as a disk that
// returns other data does.
//
// The agent's background scrub re-reads files from the disk, not its hash
// cache: within one configured pass interval (plus the pass itself at the
// configured rate) it finds the file, the coordinator raises
// slot.corrupt_files naming it, the bad copy is set aside in the slot's
// quarantine (reason corrupt) and the next catch-up fetches the message
// again from the master. No copy lost a message.
//
// A fast scrub is configured (a pass at most every 10 s at 32 MiB/s)
// instead of the defaults (a day, 8 MiB/s), so that a pass comes in seconds.
#include <gtest/gtest.h>
#include <sys/stat.h>

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
constexpr int64_t kScrubPassIntervalMs = 10000;
constexpr uint64_t kScrubRate = 32ull << 20;  // bytes/s

uint64_t SlotBytes(const std::string& slot) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(fs::path(slot) / "users", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) n += it->file_size(type_ec);
  }
  return n;
}

TEST(FaultScrubCorruptionTest, AFlippedByteOnAReplicaIsFoundReportedAndRepaired) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("scrub_corruption", absl::Seconds(3), kCatchUpMs);
  options.agent_config_extra = absl::StrCat(
      "data_path { catch_up_interval_ms: ", kCatchUpMs, " scrub_bytes_per_second: ", kScrubRate,
      " scrub_pass_interval_ms: ", kScrubPassIntervalMs, " }");
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = CreateStoreInSync(c, /*messages=*/200);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const SlotContent& ref = reference->at("st1");
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok());
  const std::string replica = ReplicasOf(*store).at(0);
  const std::string replica_dir = c.SlotPath(HostOf(replica), SlotOf(replica));
  const uint64_t slot_bytes = SlotBytes(replica_dir);
  // When the scrub must have found it: the next pass starts within one
  // interval of the last and reads the slot at the configured rate; then
  // the agent's next report. The rest is room for a loaded machine.
  const absl::Duration pass_time =
      absl::Milliseconds(kScrubPassIntervalMs) +
      absl::Seconds(static_cast<double>(slot_bytes) / static_cast<double>(kScrubRate));
  std::fprintf(
      stderr, "figure: %s holds %zu messages, %llu bytes; a pass every %lld ms at %llu B/s\n",
      replica.c_str(), MessageCount(ref), static_cast<unsigned long long>(slot_bytes),
      static_cast<long long>(kScrubPassIntervalMs), static_cast<unsigned long long>(kScrubRate));

  // A message of the first user, somewhere in its middle.
  const std::string user = ref.begin()->first;
  std::string file;
  for (const std::string& f : MessageFiles(replica_dir, user)) {
    if (fs::file_size(f) >= 4096) {
      file = f;
      break;
    }
  }
  ASSERT_FALSE(file.empty()) << "no message of 4 KiB or more for " << user;
  const std::string relative = fs::path(file).lexically_relative(fs::path(replica_dir) / "users");
  struct stat before;
  ASSERT_EQ(stat(file.c_str(), &before), 0);
  LoopFilesystem* lfs = c.UnitFilesystem(HostOf(replica), "du1");
  ASSERT_NE(lfs, nullptr);
  const absl::Time flipped = absl::Now();
  ASSERT_TRUE(FlipByteOnDevice(file, before.st_size / 2, lfs->device()).ok());
  struct stat after;
  ASSERT_EQ(stat(file.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_ctim.tv_sec, before.st_ctim.tv_sec);
  EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
  // The disk now returns other content for it.
  auto corrupt = ReadSlotContent(replica_dir);
  ASSERT_TRUE(corrupt.ok()) << corrupt.status();
  std::vector<std::string> differs = MissingFrom(ref, *corrupt);
  ASSERT_EQ(differs.size(), 1u) << absl::StrJoin(differs, "\n");
  std::fprintf(stderr, "flipped a byte of %s on %s at offset %lld: %s\n", relative.c_str(),
               lfs->device().c_str(), static_cast<long long>(before.st_size / 2),
               differs[0].c_str());

  // Found by the scrub, and the event names the file.
  v1::Event found;
  ASSERT_TRUE(c.WaitForEvent("slot.corrupt_files", pass_time + absl::Seconds(15), &found).ok())
      << "the scrub did not report the corrupt file within " << absl::FormatDuration(pass_time)
      << " (+15 s)";
  const absl::Duration to_find = absl::Now() - flipped;
  EXPECT_EQ(absl::StrCat(found.host(), "/", found.slot()), replica) << found.ShortDebugString();
  EXPECT_EQ(found.store(), "st1");
  EXPECT_TRUE(absl::StrContains(found.text(), relative)) << found.text();
  std::fprintf(stderr,
               "figure: slot.corrupt_files %s after the flip (configured pass time %s): %s\n",
               absl::FormatDuration(to_find).c_str(), absl::FormatDuration(pass_time).c_str(),
               found.text().c_str());

  // Repaired from the master: the replica holds the message as it was.
  absl::Time repaired_at;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::vector<std::string> missing;
  while (absl::Now() < deadline) {
    auto now = ReadWhileSyncing(replica_dir);
    if (now.ok()) {
      missing = MissingFrom(ref, *now);
      if (missing.empty()) {
        repaired_at = absl::Now();
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(missing.empty()) << "not repaired: " << absl::StrJoin(missing, "\n");
  std::fprintf(stderr, "figure: repaired %s after the flip\n",
               absl::FormatDuration(repaired_at - flipped).c_str());

  // The bad copy is kept aside, listed as corrupt; the coordinator counts it.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListQuarantineItemsRequest req;
    req.set_host(HostOf(replica));
    req.set_slot(SlotOf(replica));
    v1::ListQuarantineItemsResponse resp;
    ASSERT_TRUE(c.api().ListQuarantine(&ctx, req, &resp).ok());
    int corrupt_items = 0;
    for (const auto& s : resp.slots()) {
      for (const auto& item : s.items()) {
        if (item.reason() == "corrupt") {
          ++corrupt_items;
          EXPECT_EQ(absl::StrCat(item.user(), "/", item.path()), relative);
        }
      }
    }
    EXPECT_EQ(corrupt_items, 1) << resp.ShortDebugString();
  }
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [&](const v1::StoreInfo& s) {
                     const v1::Copy* cp = CopyAt(s, replica);
                     return cp != nullptr && cp->scrub_corrupt_found() >= 1 && cp->in_sync();
                   },
                   absl::Seconds(30), "the replica in sync, with its scrub's finding counted")
                  .ok());
  auto now = c.Store("st1");
  ASSERT_TRUE(now.ok());
  for (const auto& cp : now->copies()) {
    std::fprintf(stderr,
                 "figure: %s: scrub corrupt_found %llu, last full pass %lld ms, pass %.0f%%, "
                 "quarantine %llu items\n",
                 SlotName(cp).c_str(), static_cast<unsigned long long>(cp.scrub_corrupt_found()),
                 static_cast<long long>(cp.scrub_last_full_pass_ms()),
                 100 * cp.scrub_pass_fraction(),
                 static_cast<unsigned long long>(cp.quarantine_items()));
  }
  std::string out;
  auto code = c.Slotctl({"quarantine", "list", "--slot", replica}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl quarantine list --slot %s\n%s\n", replica.c_str(), out.c_str());

  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
  std::fprintf(stderr, "figure: %zu messages on every copy, 0 lost; test took %s\n",
               MessageCount(ref), absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
