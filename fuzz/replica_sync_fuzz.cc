// Fuzz target: a replica taking a hostile source's answers. Each input is a
// HostileSource (fuzz_input.proto, binary): what a source on a real gRPC
// server on 127.0.0.1 answers to every call. The replica's side then runs
// as it does for real:
//
// - PeerClient's checked calls (ListUsers, GetManifest, GetDelta,
//   GetDeltas): whatever they accept must hold what peer_client.h promises
//   (valid user names listed once; entries with valid relative paths,
//   permission bits only, a hash of the right size for a file, no path
//   twice);
// - a whole store sync (SyncStore: manifests or deltas applied, files
//   fetched and installed) into a real target slot in a temporary
//   directory: afterwards nothing may exist outside the slot, and inside it
//   only directories and regular files without setuid, setgid or sticky
//   bits.
//
// The slot and the data path's RocksDB are emptied before every input.
#include <ftw.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "base/clock.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/hostile_source.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/state_db.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/target_fs.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace slotkeeper::fuzz {
namespace {

using sync::Manifest;
using sync::ManifestEntry;

void CheckEntries(const std::vector<ManifestEntry>& entries, bool full) {
  std::set<std::string> seen;
  for (const ManifestEntry& e : entries) {
    FUZZ_CHECK(sync::ValidateRelativePath(e.path()).ok(), "entry path accepted: %s",
               e.path().c_str());
    FUZZ_CHECK((e.mode() & ~sync::kPermissionBits) == 0, "mode %o accepted", e.mode());
    FUZZ_CHECK(e.directory() ? e.hash().empty() : e.hash().size() == sync::kHashBytes,
               "entry %s with a hash of %zu bytes accepted", e.path().c_str(), e.hash().size());
    FUZZ_CHECK(full || !e.directory(), "a directory in a delta accepted");
    FUZZ_CHECK(seen.insert(e.path()).second, "path %s twice", e.path().c_str());
  }
}

void CheckDelta(const std::optional<sync::SourceDelta>& delta) {
  if (!delta.has_value()) return;
  CheckEntries(delta->entries, /*full=*/false);
  for (const std::string& path : delta->removed) {
    FUZZ_CHECK(sync::ValidateRelativePath(path).ok(), "removed path accepted");
  }
}

// What the checked calls of PeerClient accept.
void CallSource(const sync::PeerClient& source) {
  absl::StatusOr<v1::ListUsersResponse> listed = source.ListUsers("");
  if (listed.ok()) {
    std::set<std::string> users;
    for (const v1::UserSummary& u : listed->users()) {
      FUZZ_CHECK(sync::ValidateUserName(u.user()).ok(), "user name accepted");
      FUZZ_CHECK(users.insert(u.user()).second, "user %s listed twice", u.user().c_str());
    }
  }
  uint64_t generation = 0;
  sync::UserDirMetadata user_dir;
  absl::StatusOr<Manifest> manifest = source.GetManifest("alice", &generation, &user_dir);
  if (manifest.ok()) {
    CheckEntries(*manifest, /*full=*/true);
    FUZZ_CHECK((user_dir.mode & ~sync::kPermissionBits) == 0, "user dir mode accepted");
  }
  const sync::InlineLimits inline_limits{4096, 16384};
  auto delta = source.GetDelta("alice", sync::DeltaBase{"i", 1}, inline_limits, nullptr);
  if (delta.ok()) CheckDelta(*delta);
  auto deltas = source.GetDeltas({{"alice", {"i", 1}}, {"bob", {"i", 2}}}, inline_limits);
  if (deltas.ok()) {
    for (const auto& [user, d] : *deltas) CheckDelta(d);
  }
}

// nftw's visitor: only directories and plain regular files in the slot.
int CheckSlotEntry(const char* path, const struct stat* st, int type, struct FTW*) {
  FUZZ_CHECK(type == FTW_F || type == FTW_D || type == FTW_DP, "%s: not a file or directory", path);
  FUZZ_CHECK(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode), "%s: mode %o", path, st->st_mode);
  FUZZ_CHECK((st->st_mode & 07000) == 0, "%s: setuid, setgid or sticky (%o)", path, st->st_mode);
  return 0;
}

struct Replica {
  Replica() : base(MakeTempDir("replica_sync_fuzz")), target(base + "/target") {
    FUZZ_CHECK(mkdir(target.c_str(), 0755) == 0, "mkdir %s", target.c_str());
    auto opened = sync::OpenStateDb(base + "/db");
    FUZZ_CHECK(opened.ok(), "%s", opened.status().ToString().c_str());
    db = std::move(*opened);
    auto root = sync::OpenRootDir(target);
    FUZZ_CHECK(root.ok(), "%s", root.status().ToString().c_str());
    target_root = std::move(*root);
  }

  // An empty slot and database, as if nothing had been synced before.
  void Reset() {
    EmptyDir(target);
    FUZZ_CHECK(sync::EnsureSlotIdentity(target_root.get(), sync::DefaultTargetFs()).ok(),
               "slot identity");
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    rocksdb::WriteBatch batch;
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(it->key());
    FUZZ_CHECK(db->Write(rocksdb::WriteOptions(), &batch).ok(), "db reset");
  }

  void Sync(const sync::PeerClient& source) {
    sync::SyncCounters counters;
    sync::StoreSyncContext ctx;
    ctx.source = &source;
    ctx.target_root = target_root.get();
    ctx.target_slot = "t1";
    ctx.options.parallel_users = 1;
    ctx.db = db.get();
    ctx.fs = sync::DefaultTargetFs();
    ctx.clock = &clock;
    ctx.counters = &counters;
    (void)sync::SyncStore(ctx);
    // Nothing beside the slot and the database: no path led out of it.
    for (const auto& e : std::filesystem::directory_iterator(base)) {
      FUZZ_CHECK(e.path() == target || e.path() == base + "/db", "%s written outside the slot",
                 e.path().c_str());
    }
    FUZZ_CHECK(nftw(target.c_str(), CheckSlotEntry, 16, FTW_PHYS) == 0, "walk of the slot");
  }

  const std::string base;
  const std::string target;
  std::unique_ptr<rocksdb::DB> db;
  sync::Fd target_root;
  FakeClock clock;
};

}  // namespace
}  // namespace slotkeeper::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotkeeper::fuzz;  // NOLINT: the entry point only
  static LoopbackSource* const peer = new LoopbackSource();
  static Replica* const replica = new Replica();
  HostileSource script;
  if (!script.ParseFromArray(data, static_cast<int>(size))) return -1;
  peer->service.Set(script);
  const slotkeeper::sync::PeerClient source(peer->stub.get(), "s1", peer->address);
  CallSource(source);
  replica->Reset();
  replica->Sync(source);
  return 0;
}
