// The source side of push replication: PeerCore's slots' changes as a
// stream of notices (peer.proto WatchChanges) for one replica.
//
// A feed sends every user with its generation first (the replica's base),
// then waits on the change tracker's sequence for the slot
// (change_tracker.h), which its event thread advances a few milliseconds
// after a change; each wake lists the slot's users again (a drain of queued
// events, no scan, in watched mode) and sends the users whose generation
// differs from what this feed last sent them at. A wake without change
// sends a heartbeat at most every `heartbeat`: a notice is a promise that
// every change seen before it was made is in it or in an earlier one.
//
// Flow control: a notice is built from the tracker's state when it is
// sent, never queued. A replica that reads slowly holds only its own
// handler's thread (its Write blocks) and, when it reads again, gets one
// notice naming every user that changed meanwhile, each once, at its
// newest generation: it never slows the master's other feeds or its
// deliveries, and what it is owed is bounded by the slot's users.
//
// The slot is checked to hold the store at the start and before every
// notice: a slot released from the store ends its feeds.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FEED_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FEED_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/peer.pb.h"
#include "replicator/sync/peer_service.h"

namespace slotkeeper::sync {

inline constexpr absl::Duration kDefaultHeartbeat = absl::Seconds(1);
inline constexpr absl::Duration kMinHeartbeat = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxHeartbeat = absl::Seconds(10);

// Serves one WatchChanges call until the client goes away (`write` false
// or `cancelled` true: OK) or the slot stops holding the store
// (FAILED_PRECONDITION). INVALID_ARGUMENT for a bad request,
// FAILED_PRECONDITION for a slot not tracked by change events, before
// anything is written. `cancelled` is looked at every 250 ms at least.
absl::Status ServeChangeFeed(PeerCore* core, const v1::WatchChangesRequest& request,
                             const std::function<bool(const v1::ChangeNotice&)>& write,
                             const std::function<bool()>& cancelled);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FEED_H_
