// Shared pieces of the data-safety fault tests (replica identity, scrub,
// guard and quarantine, final pull, stranded mail, a full disk): mail
// written straight into a slot, a byte flipped under the filesystem, the
// coordinator's view of one copy, and a copy's content with its quarantine.
#ifndef SLOTKEEPER_TESTS_E2E_DATA_SAFETY_H_
#define SLOTKEEPER_TESTS_E2E_DATA_SAFETY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/automation.grpc.pb.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/mail_check.h"

namespace slotkeeper::testing {

// Options of a data-safety fault test: its root $TEST_TMPDIR/<name>,
// progress lines on stderr, three hosts of one unit with two slots each,
// replicas that catch up every `catch_up_ms`, and a coordinator that detects
// quickly (500 ms heartbeats, a 4 s lease), fails over `failover_grace_hard`
// after hard evidence (20 s after silence) and replaces no copy by itself
// (replace_after 10 min).
ClusterOptions DataSafetyOptions(const std::string& name, absl::Duration failover_grace_hard,
                                 int64_t catch_up_ms);

// Creates st1 with its master on imap1/du1s1 (4 users, `messages` messages
// each, placed by the coordinator) and waits up to 60 s until every replica
// has caught up by its own catch-up (WaitForReplicasInSync). Returns the
// content as generated, by store (Cluster::CreateStores).
absl::StatusOr<std::map<std::string, SlotContent>> CreateStoreInSync(Cluster& cluster,
                                                                     int messages);

// Delivers `count` messages of `size` bytes each into <slot>/users/<user>/cur
// (the user's Maildir created when missing), the way a mail server does:
// written in tmp/, fsynced, renamed into cur/. Names carry `tag`, so that
// two deliveries never collide. Returns what was delivered (the user's
// messages whose name carries the tag, as ReadSlotContent keys them).
absl::StatusOr<SlotContent> DeliverMessages(const std::string& slot, const std::string& user,
                                            int count, const std::string& tag, size_t size = 4096);

// Overwrites every message of <slot>/users/<user> in place with random bytes
// of the same size (a broken mail server or a bad script): same names,
// other content. Returns how many files it rewrote.
absl::StatusOr<int> RewriteWithGarbage(const std::string& slot, const std::string& user,
                                       uint64_t seed);

// The message files (cur/ and new/) of <slot>/users/<user>, sorted by path;
// the data path's temporaries (".slotsync-*") are not messages.
std::vector<std::string> MessageFiles(const std::string& slot, const std::string& user);
// Bytes of the regular files under `dir`, temporaries included (0 when
// it does not exist).
uint64_t BytesUnder(const std::string& dir);

// Changes one byte of `file` at `offset` on the block device `device` under
// its filesystem (the file's extent map gives the block): the filesystem is
// bypassed, so the file's size, mtime and ctime stay as they were, like a
// disk that silently returns other data. The file's cached pages are
// dropped so that later reads see the disk.
absl::Status FlipByteOnDevice(const std::string& file, uint64_t offset, const std::string& device);

// Fills the filesystem of `mount` with a file `name` until a write fails
// with ENOSPC (root's view: the reserved blocks too), as a runaway log
// does. FreeBytes: the free bytes root may still use.
absl::Status FillFilesystem(const std::string& mount, const std::string& name);
uint64_t FreeBytes(const std::string& mount);

// Waits until every replica of `store` has reported a complete catch-up of
// its own since its agent started (in sync, last_synced_ms set, identity
// not changed).
absl::Status WaitForReplicasInSync(Cluster& cluster, const std::string& store,
                                   absl::Duration timeout);

// Events of `kind` (and of `store` when not empty) in the journal, oldest
// first.
std::vector<v1::Event> EventsOf(Cluster& cluster, const std::string& kind,
                                const std::string& store = "");

// What a copy lost for good: the messages of `expected` that <slot> holds
// neither live nor in its quarantine (LostFrom). Also gives the figures.
struct CopyAccount {
  size_t live_messages = 0;       // messages of `expected`'s users, live
  size_t quarantined_files = 0;   // files of those users in .quarantine
  std::vector<std::string> lost;  // one line each
};
absl::StatusOr<CopyAccount> AccountFor(const std::string& slot, const SlotContent& expected);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_DATA_SAFETY_H_
