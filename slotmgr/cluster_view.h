// ClusterView: a plain snapshot of the cluster that the pure decisions
// (promotion, placement, scheduling, guardrails) read.
//
// The coordinator's model copies what a decision needs into a ClusterView
// and calls the decision; the decision never sees live state, protobuf
// messages or locks, so it is a pure function that tests feed from literal
// tables. Vocabulary: the states and roles are the proto enums of
// proto/model.proto (slotkeeper::v1::HostState, UnitState, SlotRole), so the
// model, the API and the decisions speak one language; only the enums are
// used, never a message.
//
// Usage: fill the public vectors, then call Finalize(), which validates the
// references between them and builds the name indexes. After Finalize() the
// fields of existing elements may still be changed in place (a test marking
// a host down), but elements must not be added or removed without calling
// Finalize() again. The finders are O(1) (hash maps keyed by name).
//
// Copyable: the indexes hold positions, not pointers, so a copy stays
// indexed.
//
// Thread-safety: a finalized ClusterView is immutable from the decisions'
// point of view; concurrent const use is safe. Not safe to mutate while read.
#ifndef SLOTKEEPER_SLOTMGR_CLUSTER_VIEW_H_
#define SLOTKEEPER_SLOTMGR_CLUSTER_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

// A slot's global name: "HOST/SLOT".
struct SlotId {
  std::string host;
  std::string slot;

  std::string ToString() const { return host + "/" + slot; }
  bool empty() const { return host.empty() && slot.empty(); }
  friend bool operator==(const SlotId& a, const SlotId& b) {
    return a.host == b.host && a.slot == b.slot;
  }
  friend bool operator!=(const SlotId& a, const SlotId& b) { return !(a == b); }
  friend bool operator<(const SlotId& a, const SlotId& b) {
    return a.host != b.host ? a.host < b.host : a.slot < b.slot;
  }
};

struct HostView {
  std::string name;
  v1::HostState state = v1::HOST_UP;
  bool draining = false;
  int64_t clock_offset_ms = 0;  // agent clock minus coordinator clock
  bool clock_skewed = false;    // as flagged by the failure detector
  int64_t last_heard_ms = 0;    // coordinator clock
};

struct UnitView {
  std::string host;
  std::string name;
  v1::UnitState state = v1::UNIT_ONLINE;
  int64_t failed_since_ms = 0;  // 0 when online
};

struct FilesystemView {
  std::string host;
  std::string mount_point;
  std::string unit;    // UnitView.name on the same host
  bool usable = true;  // FS_OK (no hard condition)
  uint64_t free_bytes = 0;
};

struct SlotView {
  std::string host;
  std::string name;
  std::string unit;        // UnitView.name on the same host
  std::string filesystem;  // FilesystemView.mount_point on the same host
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  v1::SlotRole role = v1::SLOT_SPARE;
  std::string store;  // empty for a spare slot
  // Host not down, unit not failed or lost, filesystem FS_OK: computed by the
  // failure detector, taken as given here.
  bool usable = true;

  SlotId id() const { return SlotId{host, name}; }
};

// One copy of a store, as the store sees it.
struct CopyView {
  SlotId slot;
  v1::SlotRole role = v1::SLOT_REPLICA;  // MASTER, REPLICA, SEEDING or LOST
  bool usable = true;
  bool in_sync = true;
  int64_t lag_ms = 0;  // age of the oldest change not yet applied
  // The slot's identity changed behind its agent (emptied, replaced by
  // another copy, another filesystem mounted there) and no verification
  // against the master has passed since: its content is unknown, whatever
  // its lag says.
  bool identity_changed = false;
};

struct StoreView {
  std::string name;
  uint32_t required_copies = 3;  // master included
  uint64_t used_bytes = 0;       // size of one complete copy
  uint64_t master_epoch = 0;
  std::vector<CopyView> copies;

  // The copy with role MASTER, or nullptr.
  const CopyView* master() const;
  // Copies that count towards required_copies: every role but LOST.
  int PresentCopies() const;
  // Usable copies that serve the store now: MASTER or REPLICA
  // (model::IsServingRole; a SEEDING copy is not complete yet). The figure
  // compared with required_copies for HEALTHY / DEGRADED.
  int UsableCopies() const;
  // Usable serving copies that are in sync: what can serve as a source for
  // a new replica, and what is really safe.
  int HealthyCopies() const;
  // True if any copy (of any role, LOST included) lives on `host`.
  bool HasCopyOnHost(absl::string_view host) const;
};

// A replication task in flight, for load accounting: placement counts queued
// and running tasks alike (both will load their hosts).
struct TaskView {
  std::string id;
  std::string store;
  SlotId source;
  SlotId target;
  bool running = true;  // false: still queued
};

class ClusterView {
 public:
  std::vector<HostView> hosts;
  std::vector<UnitView> units;
  std::vector<FilesystemView> filesystems;
  std::vector<SlotView> slots;
  std::vector<StoreView> stores;
  std::vector<TaskView> tasks;

  // Validates and indexes. Errors (INVALID_ARGUMENT, naming the offender):
  // empty or duplicate names; a unit, filesystem or slot on an unknown host;
  // a slot on an unknown filesystem or unit; a copy on an unknown slot, or a
  // slot listed as a copy of two stores, or as a copy of a store that its
  // SlotView.store does not name; a store with required_copies 0.
  absl::Status Finalize();
  bool finalized() const { return finalized_; }

  // Finders: nullptr when absent. Require Finalize().
  const HostView* FindHost(absl::string_view name) const;
  const UnitView* FindUnit(absl::string_view host, absl::string_view unit) const;
  const FilesystemView* FindFilesystem(absl::string_view host, absl::string_view mount_point) const;
  const SlotView* FindSlot(absl::string_view host, absl::string_view slot) const;
  const SlotView* FindSlot(const SlotId& id) const { return FindSlot(id.host, id.slot); }
  const StoreView* FindStore(absl::string_view name) const;

  // Mutable finders, for tests and for the coordinator preparing a view.
  HostView* MutableHost(absl::string_view name);
  SlotView* MutableSlot(absl::string_view host, absl::string_view slot);
  StoreView* MutableStore(absl::string_view name);

  // Positions in the vectors, or -1.
  int HostIndex(absl::string_view name) const;
  int SlotIndex(absl::string_view host, absl::string_view slot) const;
  int StoreIndex(absl::string_view name) const;

 private:
  static std::string Key(absl::string_view host, absl::string_view name);
  // Finalize's last step: stores and their copies (slots already indexed).
  absl::Status IndexStores();

  bool finalized_ = false;
  absl::flat_hash_map<std::string, int> host_index_;
  absl::flat_hash_map<std::string, int> unit_index_;        // "host/unit"
  absl::flat_hash_map<std::string, int> filesystem_index_;  // "host/mount"
  absl::flat_hash_map<std::string, int> slot_index_;        // "host/slot"
  absl::flat_hash_map<std::string, int> store_index_;
};

// "-6h", "5s", "1m30s": durations for reasons shown to operators.
std::string FormatMs(int64_t ms);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_CLUSTER_VIEW_H_
