// Fuzz target: the FetchFiles client writing a hostile source's chunks. Each
// input is a HostileSource (fuzz_input.proto, binary): the manifest entries
// the replica wants (those PeerClient would refuse are dropped first, as a
// real manifest never gets this far with them) and the FileChunks a source
// on a real gRPC server on 127.0.0.1 streams for every FetchFiles call.
// FetchInBatches (replicator/sync/fetch.h) then fetches them into the user
// directory of a real slot in a temporary directory. Afterwards:
//
// - every file in place under a wanted path has the entry's size and hash;
// - the user directory holds no more bytes than the entries declare (a
//   file is abandoned at the first byte past its size);
// - nothing was written outside the user directory, and nothing there is
//   anything but a directory or a regular file.
#include <ftw.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/hostile_source.h"
#include "replicator/sync/fetch.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/install.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/replica_context.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::fuzz {
namespace {

using sync::ManifestEntry;

// The entries PeerClient::GetManifest lets through, masked as it masks them.
std::vector<ManifestEntry> Wanted(const HostileSource& script) {
  std::vector<ManifestEntry> out;
  std::set<std::string> seen;
  for (ManifestEntry e : script.wants()) {
    if (e.directory() || e.hash().size() != sync::kHashBytes) continue;
    if (!sync::ValidateRelativePath(e.path()).ok() || !seen.insert(e.path()).second) continue;
    e.set_mode(e.mode() & sync::kPermissionBits);
    out.push_back(std::move(e));
  }
  return out;
}

std::string HashOf(const std::string& data) {
  sync::ContentHasher hasher;
  hasher.Update(data.data(), data.size());
  return hasher.Finish();
}

uint64_t bytes_found = 0;  // by CountBytes

int CountBytes(const char* path, const struct stat* st, int type, struct FTW*) {
  FUZZ_CHECK(type == FTW_F || type == FTW_D, "%s: not a file or directory", path);
  FUZZ_CHECK(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode), "%s: mode %o", path, st->st_mode);
  FUZZ_CHECK((st->st_mode & 07000) == 0, "%s: setuid, setgid or sticky", path);
  if (S_ISREG(st->st_mode)) bytes_found += st->st_size;
  return 0;
}

struct Slot {
  Slot() : root(MakeTempDir("fetch_files_fuzz")), user_dir(root + "/users/alice") {
    auto fd = sync::OpenRootDir(root);
    FUZZ_CHECK(fd.ok(), "%s", fd.status().ToString().c_str());
    root_fd = std::move(*fd);
  }

  void Fetch(const sync::PeerClient& source, const std::vector<ManifestEntry>& wants) {
    EmptyDir(root);
    auto user = sync::OpenDirBeneath(root_fd.get(), "users/alice", /*create=*/true);
    FUZZ_CHECK(user.ok(), "%s", user.status().ToString().c_str());
    sync::SyncCounters counters;
    sync::UserSyncContext ctx;
    ctx.source = &source;
    ctx.target_root = root_fd.get();
    ctx.target_scope = "t1";
    ctx.fs = sync::DefaultTargetFs();
    ctx.clock = &clock;
    ctx.counters = &counters;
    ctx.options.streams_per_user = 1;
    sync::DirCache dirs(user->get());
    std::vector<const ManifestEntry*> files;
    for (const ManifestEntry& e : wants) files.push_back(&e);
    (void)sync::FetchInBatches(ctx, "alice", &dirs, files, nullptr);
    Check(wants);
  }

  void Check(const std::vector<ManifestEntry>& wants) {
    uint64_t declared = 0;
    for (const ManifestEntry& e : wants) {
      declared += e.size();
      struct stat st;
      const std::string path = user_dir + "/" + e.path();
      if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      std::ifstream in(path, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      FUZZ_CHECK(content.str().size() == e.size() && HashOf(content.str()) == e.hash(),
                 "%s installed with %zu bytes, declared %llu, or another hash", e.path().c_str(),
                 content.str().size(), static_cast<unsigned long long>(e.size()));
    }
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      FUZZ_CHECK(entry.path() == root + "/users", "%s written outside the user directory",
                 entry.path().c_str());
    }
    bytes_found = 0;
    FUZZ_CHECK(nftw(user_dir.c_str(), CountBytes, 16, FTW_PHYS) == 0, "walk");
    FUZZ_CHECK(bytes_found <= declared, "%llu bytes written for %llu declared",
               static_cast<unsigned long long>(bytes_found),
               static_cast<unsigned long long>(declared));
  }

  const std::string root;
  const std::string user_dir;
  sync::Fd root_fd;
  FakeClock clock;
};

}  // namespace
}  // namespace slotkeeper::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace slotkeeper::fuzz;  // NOLINT: the entry point only
  static LoopbackSource* const peer = new LoopbackSource();
  static Slot* const slot = new Slot();
  HostileSource script;
  if (!script.ParseFromArray(data, static_cast<int>(size))) return -1;
  peer->service.Set(script);
  const slotkeeper::sync::PeerClient source(peer->stub.get(), "s1", peer->address);
  slot->Fetch(source, Wanted(script));
  return 0;
}
