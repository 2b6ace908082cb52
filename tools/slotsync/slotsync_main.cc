// slotsync: pulls one user or a whole slot from a running agent's
// ReplicaPeer into a local slot directory, through exactly the data path the
// agent uses (manifests, Maildir-aware renames, verified transfer,
// quarantine, mass-deletion guard, checkpoints).
//
//   slotsync --source HOST:PORT --slot NAME [--user U] --dest DIR
//            [--state DIR] [--store NAME] [--parallel_users N]
//            [--bwlimit BYTES_PER_S] [--durability batch|file]
//            [--call_timeout 30s] [--manifest_timeout 2m] [--stall_timeout 60s]
//
// Exit status: 0 done; 1 failed (message on stderr; a source that stops
// answering is given up after the timeouts: DEADLINE_EXCEEDED); 2 bad
// arguments; 3 done but some users were blocked by the mass-deletion guard.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/clock.h"
#include "base/command_line.h"
#include "base/duration.h"
#include "base/grpc_util.h"
#include "base/tls_flags.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/state_db.h"
#include "replicator/sync/store_sync.h"
#include "tools/slotsync/last_listing.h"

ABSL_FLAG(std::string, source, "", "HOST:PORT of the source's ReplicaPeer");
ABSL_FLAG(std::string, source_identity, "",
          "with TLS: the name the source's certificate must carry (its host name; default: the "
          "host of --source)");
ABSL_FLAG(std::string, slot, "", "slot name on the source");
ABSL_FLAG(std::string, user, "", "only this user (default: every user)");
ABSL_FLAG(std::string, dest, "", "local slot directory to sync into");
ABSL_FLAG(std::string, state, "",
          "checkpoint and hash-cache directory (default DEST/.slotsync-state)");
ABSL_FLAG(std::string, store, "",
          "expected store name; checked on the source, marker written on DEST");
ABSL_FLAG(int, parallel_users, 4, "users synced at once");
ABSL_FLAG(int, streams_per_user, 2, "FetchFiles streams per user");
ABSL_FLAG(int, delta_batch_users, 8,
          "users whose delta manifests are asked for in one GetManifests call");
ABSL_FLAG(int, commit_group_users, 16,
          "users made durable together (one or two syncfs), then checkpointed");
ABSL_FLAG(uint64_t, bwlimit, 0, "bandwidth limit in bytes/s (0 = none)");
ABSL_FLAG(std::string, durability, "auto",
          "file: fsync every file and directory; batch: one syncfs per fetched batch; "
          "auto: file for small batches, batch for large ones");
ABSL_FLAG(double, max_removal_share, 0.10,
          "mass-deletion guard: block a user losing more than this share");
ABSL_FLAG(bool, checkpoints, true,
          "skip users unchanged since the last run (same source generation)");
ABSL_FLAG(bool, delta, true,
          "incremental: ask the source for delta manifests (changed paths since the "
          "checkpoint) instead of walking every changed user's tree; falls back to full");
ABSL_FLAG(bool, quiet, false, "do not list failed users one by one");
ABSL_FLAG(slotkeeper::FlagDuration, call_timeout, slotkeeper::sync::PeerTimeouts().call,
          "give up on a ListUsers call after this long");
ABSL_FLAG(slotkeeper::FlagDuration, manifest_timeout, slotkeeper::sync::PeerTimeouts().manifest,
          "give up on a user's manifest after this long (the source hashes files it has no "
          "cached hash for before it answers)");
ABSL_FLAG(slotkeeper::FlagDuration, stall_timeout, slotkeeper::sync::PeerTimeouts().stall,
          "give up on a file transfer when no data arrived for this long");

namespace slotkeeper::slotsync {
namespace {

// The scope of checkpoints and hash-cache entries in slotsync's state.
constexpr char kTargetSlot[] = "dest";

int Usage(const std::string& message) {
  std::fprintf(stderr, "slotsync: %s\n", message.c_str());
  return 2;
}

// The command line, checked.
struct Args {
  std::string source;  // HOST:PORT
  std::string slot;
  std::string store;
  std::string dest;   // resolved, absolute
  std::string state;  // checkpoint and hash-cache directory
  sync::StoreSyncOptions options;
  sync::PeerTimeouts timeouts;
};

// Fills `args` from the flags (creating --dest if needed); 0, or the exit
// code after the message for a bad command line.
int ParseArgs(Args* args) {
  args->source = absl::GetFlag(FLAGS_source);
  if (absl::Status s = ValidateHostPort(args->source); !s.ok()) {
    return Usage(absl::StrCat("--source: ", s.message()));
  }
  args->slot = absl::GetFlag(FLAGS_slot);
  if (args->slot.empty()) return Usage("--slot is required");
  if (!absl::GetFlag(FLAGS_user).empty()) {
    if (absl::Status s = sync::ValidateUserName(absl::GetFlag(FLAGS_user)); !s.ok()) {
      return Usage(absl::StrCat("--user: ", s.message()));
    }
  }
  if (absl::GetFlag(FLAGS_dest).empty()) return Usage("--dest is required");
  mkdir(absl::GetFlag(FLAGS_dest).c_str(), 0755);
  char real[PATH_MAX];
  if (realpath(absl::GetFlag(FLAGS_dest).c_str(), real) == nullptr) {
    return Usage(absl::StrCat("--dest ", absl::GetFlag(FLAGS_dest), ": cannot resolve"));
  }
  args->dest = real;
  args->store = absl::GetFlag(FLAGS_store);
  sync::StoreSyncOptions& options = args->options;
  options.only_user = absl::GetFlag(FLAGS_user);
  options.parallel_users = absl::GetFlag(FLAGS_parallel_users);
  options.user.streams_per_user = absl::GetFlag(FLAGS_streams_per_user);
  if (absl::GetFlag(FLAGS_commit_group_users) < 1 ||
      absl::GetFlag(FLAGS_commit_group_users) > 4096) {
    return Usage("--commit_group_users must be 1..4096");
  }
  options.commit_group_users = absl::GetFlag(FLAGS_commit_group_users);
  if (absl::GetFlag(FLAGS_delta_batch_users) < 1 || absl::GetFlag(FLAGS_delta_batch_users) > 1024) {
    return Usage("--delta_batch_users must be 1..1024");
  }
  options.delta_batch_users = absl::GetFlag(FLAGS_delta_batch_users);
  options.bandwidth_bytes_per_second = absl::GetFlag(FLAGS_bwlimit);
  options.user.guard.max_removal_share = absl::GetFlag(FLAGS_max_removal_share);
  options.use_checkpoints = absl::GetFlag(FLAGS_checkpoints);
  options.user.use_delta = absl::GetFlag(FLAGS_delta);
  if (options.parallel_users < 1 || options.parallel_users > 64) {
    return Usage("--parallel_users must be 1..64");
  }
  const std::string durability = absl::GetFlag(FLAGS_durability);
  if (durability == "auto") {
    options.user.durability = sync::Durability::kAuto;
  } else if (durability == "batch") {
    options.user.durability = sync::Durability::kPerBatch;
  } else if (durability == "file") {
    options.user.durability = sync::Durability::kPerFile;
  } else {
    return Usage("--durability must be auto, batch or file");
  }
  args->state = absl::GetFlag(FLAGS_state).empty() ? args->dest + "/.slotsync-state"
                                                   : absl::GetFlag(FLAGS_state);
  args->timeouts.call = absl::GetFlag(FLAGS_call_timeout);
  args->timeouts.manifest = absl::GetFlag(FLAGS_manifest_timeout);
  args->timeouts.stall = absl::GetFlag(FLAGS_stall_timeout);
  for (absl::Duration d : {args->timeouts.call, args->timeouts.manifest, args->timeouts.stall}) {
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return Usage("--call_timeout, --manifest_timeout and --stall_timeout must be positive");
    }
  }
  return 0;
}

// A whole-slot run records its listing; a run for one user does not.
bool WholeSlot(const Args& args) {
  return args.options.use_checkpoints && args.options.only_user.empty();
}

void PrintUnchanged(uint64_t users, absl::Time start) {
  absl::PrintF(
      "slotsync: users %d/%d done (%d unchanged, 0 blocked, 0 failed); files copied 0, "
      "renamed 0, quarantined 0; bytes 0; %.3f s\n",
      users, users, users, absl::ToDoubleSeconds(RealClock()->Now() - start));
}

// The destination's identity (slot_layout.h); "" when it cannot be read
// (then no record matches).
std::string DestIdentity(const std::string& dest) {
  absl::StatusOr<sync::Fd> root = sync::OpenRootDir(dest);
  if (!root.ok()) return "";
  absl::StatusOr<sync::SlotIdentity> id = sync::ReadSlotIdentity(root->get());
  return id.ok() && !id->instance_id.empty() ? id->ToString() : "";
}

// The fast paths: (1) whole slot only, the source's listing equals the one
// the last complete run worked from (no database opened at all); (2) with
// no such record, every user is at its checkpoint (read-only database). A
// record that differs means something changed: straight to the sync. True
// (summary printed) when there is nothing to sync; the error when the source
// cannot be listed.
absl::StatusOr<bool> NothingChanged(const Args& args, const sync::PeerClient& peer,
                                    absl::Time start) {
  if (!args.options.use_checkpoints) return false;
  absl::StatusOr<v1::ListUsersResponse> listed = peer.ListUsers(args.store);
  if (!listed.ok()) return listed.status();
  const std::string identity = DestIdentity(args.dest);
  if (identity.empty()) return false;  // a new, emptied or replaced destination
  if (WholeSlot(args)) {
    const std::string last = ReadLastListing(args.state);
    if (!last.empty()) {
      if (listed->users_size() > 0 && ListingDigest(*listed, identity) == last) {
        PrintUnchanged(listed->users_size(), start);
        return true;
      }
      return false;
    }
  }
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> ro = OpenStateDbReadOnly(args.state);
  if (!ro.ok()) return false;
  sync::CheckpointStore checkpoints(ro->get());
  uint64_t users = 0;
  if (!AllUsersAtCheckpoint(*listed, kTargetSlot, args.slot, identity, args.options.only_user,
                            &checkpoints, &users)) {
    return false;
  }
  PrintUnchanged(users, start);
  return true;
}

// The summary lines on stdout, blocked and failed users on stderr.
void PrintResult(const sync::StoreSyncResult& r, const sync::SyncCounters& counters,
                 const Args& args, absl::Time start) {
  const double secs = absl::ToDoubleSeconds(RealClock()->Now() - start);
  absl::PrintF(
      "slotsync: users %d/%d done (%d unchanged, %d blocked, %d failed); "
      "files copied %d, renamed %d, quarantined %d; bytes %d; %.3f s\n",
      r.progress.users_done(), r.progress.users_total(), r.users_skipped_unchanged,
      r.blocked_users.size(), r.failed_users.size(), counters.files_copied.load(),
      counters.files_renamed.load(), counters.files_quarantined.load(),
      counters.bytes_received.load(), secs);
  if (args.options.user.use_delta) {
    absl::PrintF(
        "slotsync: users by delta manifest %d, delta unavailable (full manifest) %d; "
        "GetManifests calls %d; files inline with a delta %d, FetchFiles calls %d\n",
        counters.delta_manifests.load(), counters.delta_fallbacks.load(),
        counters.delta_batches.load(), counters.files_inline.load(), counters.fetch_calls.load());
  }
  for (const std::string& u : r.blocked_users) {
    std::fprintf(stderr,
                 "slotsync: user %s BLOCKED by the mass-deletion "
                 "guard; nothing changed for it\n",
                 u.c_str());
  }
  if (!absl::GetFlag(FLAGS_quiet)) {
    for (const std::string& f : r.failed_users) {
      std::fprintf(stderr, "slotsync: user %s\n", f.c_str());
    }
  }
}

// The sync itself; the exit code.
int RunSync(const Args& args, const sync::PeerClient& peer, absl::Time start) {
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> db = sync::OpenStateDb(args.state);
  if (!db.ok()) {
    std::fprintf(stderr, "slotsync: %s\n", db.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<sync::Fd> root = sync::OpenRootDir(args.dest);
  if (!root.ok()) {
    std::fprintf(stderr, "slotsync: %s\n", root.status().ToString().c_str());
    return 1;
  }
  if (WholeSlot(args)) {
    // Until this run completes, no record may claim what it will do.
    if (absl::Status s = ClearLastListing(args.state); !s.ok()) {
      std::fprintf(stderr, "slotsync: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  sync::SyncCounters counters;
  sync::StoreSyncContext ctx;
  ctx.source = &peer;
  ctx.store = args.store;
  ctx.target_root = root->get();
  ctx.target_slot = kTargetSlot;
  ctx.options = args.options;
  ctx.db = db->get();
  ctx.fs = sync::DefaultTargetFs();
  ctx.clock = RealClock();
  ctx.counters = &counters;
  sync::StoreSyncResult partial;
  absl::StatusOr<sync::StoreSyncResult> result = sync::SyncStore(ctx, &partial);
  const sync::StoreSyncResult& r = result.ok() ? *result : partial;
  PrintResult(r, counters, args, start);
  if (!result.ok()) {
    std::fprintf(stderr, "slotsync: FAILED: %s\n", result.status().ToString().c_str());
    return 1;
  }
  if (WholeSlot(args) && r.blocked_users.empty() && r.failed_users.empty()) {
    // Not fatal: the next run only loses its fastest path.
    absl::Status s = absl::OkStatus();
    const std::string identity = DestIdentity(args.dest);
    if (!identity.empty()) s = WriteLastListing(args.state, ListingDigest(r.listing, identity));
    if (!s.ok()) {
      std::fprintf(stderr, "slotsync: warning: %s\n", s.ToString().c_str());
    }
  }
  return r.blocked_users.empty() ? 0 : 3;
}

}  // namespace
}  // namespace slotkeeper::slotsync

int main(int argc, char** argv) {
  using namespace slotkeeper;
  ParseCommandLineOrExit(argc, argv, "slotsync",
                         "Usage: slotsync --source HOST:PORT --slot NAME [--user U] --dest DIR "
                         "[--state DIR] [OPTION]...\n"
                         "Pulls one user, or a whole slot, from a running agent into a local "
                         "directory, through the agent's own data path.");
  if (absl::Status s = InstallTransportSecurityFromFlags(); !s.ok()) {
    std::fprintf(stderr, "slotsync: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  slotsync::Args args;
  if (int code = slotsync::ParseArgs(&args); code != 0) return code;
  auto channel = MakeChannel(args.source, absl::GetFlag(FLAGS_source_identity));
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "slotsync: cannot connect to %s within 10 s\n", args.source.c_str());
    return 1;
  }
  auto stub = v1::ReplicaPeer::NewStub(channel);
  const sync::PeerClient peer(stub.get(), args.slot, args.source, args.timeouts);
  const absl::Time start = RealClock()->Now();
  absl::StatusOr<bool> unchanged = slotsync::NothingChanged(args, peer, start);
  if (!unchanged.ok()) {
    std::fprintf(stderr, "slotsync: FAILED: %s\n", unchanged.status().ToString().c_str());
    return 1;
  }
  if (*unchanged) return 0;
  return slotsync::RunSync(args, peer, start);
}
