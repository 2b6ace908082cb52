// Test support: ClusterViews from literal tables, like Kudu's
// placement_policy-test. Header-only, testonly.
//
//   ClusterView view = MakeCluster(
//       {{"imap1", 4}, {"imap2", 4, v1::HOST_DOWN}},
//       {{"mail1", {{"imap1/s01", v1::SLOT_MASTER}, {"imap2/s01", v1::SLOT_REPLICA}}}});
//
// Each host gets one drive unit "du1" with one filesystem "/srv/du1" holding
// slots s01..sNN of `slot_capacity` bytes each.
#ifndef SLOTKEEPER_SLOTMGR_TESTING_CLUSTER_TABLES_H_
#define SLOTKEEPER_SLOTMGR_TESTING_CLUSTER_TABLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper::slotmgr::tables {

constexpr uint64_t kGB = 1'000'000'000;

struct HostRow {
  std::string name;
  int slots = 4;
  v1::HostState state = v1::HOST_UP;
  bool draining = false;
  int64_t clock_offset_ms = 0;
};

struct CopyRow {
  std::string slot;  // "HOST/SLOT"
  v1::SlotRole role = v1::SLOT_REPLICA;
  int64_t lag_ms = 0;
  bool in_sync = true;
};

struct StoreRow {
  std::string name;
  std::vector<CopyRow> copies;
  uint64_t bytes = 10 * kGB;
  uint32_t required = 3;
};

inline SlotId Slot(const std::string& host_slot) {
  std::vector<std::string> parts = absl::StrSplit(host_slot, '/');
  return parts.size() == 2 ? SlotId{parts[0], parts[1]} : SlotId{host_slot, ""};
}

// Builds and finalizes the view; fails the test on a bad table.
inline ClusterView MakeCluster(const std::vector<HostRow>& hosts,
                               const std::vector<StoreRow>& stores,
                               uint64_t slot_capacity = 100 * kGB) {
  ClusterView view;
  for (const HostRow& h : hosts) {
    HostView host;
    host.name = h.name;
    host.state = h.state;
    host.draining = h.draining;
    host.clock_offset_ms = h.clock_offset_ms;
    view.hosts.push_back(host);
    view.units.push_back({h.name, "du1", v1::UNIT_ONLINE, 0});
    view.filesystems.push_back({h.name, "/srv/du1", "du1", true, h.slots * slot_capacity});
    for (int i = 1; i <= h.slots; ++i) {
      SlotView s;
      s.host = h.name;
      s.name = absl::StrFormat("s%02d", i);
      s.unit = "du1";
      s.filesystem = "/srv/du1";
      s.capacity_bytes = slot_capacity;
      s.usable = h.state != v1::HOST_DOWN;
      view.slots.push_back(s);
    }
  }
  EXPECT_TRUE(view.Finalize().ok());
  for (const StoreRow& r : stores) {
    StoreView st;
    st.name = r.name;
    st.required_copies = r.required;
    st.used_bytes = r.bytes;
    for (const CopyRow& c : r.copies) {
      SlotView* slot = view.MutableSlot(Slot(c.slot).host, Slot(c.slot).slot);
      EXPECT_NE(slot, nullptr) << "unknown slot " << c.slot;
      if (slot == nullptr) continue;
      slot->role = c.role;
      slot->store = r.name;
      if (c.role == v1::SLOT_LOST) slot->usable = false;
      slot->used_bytes = c.role == v1::SLOT_SEEDING ? 0 : r.bytes;
      st.copies.push_back({slot->id(), c.role, slot->usable, c.in_sync, c.lag_ms});
    }
    view.stores.push_back(st);
  }
  absl::Status s = view.Finalize();
  EXPECT_TRUE(s.ok()) << s;
  return view;
}

// Declares every slot of `host` lost (its unit is gone): slots and copies
// become LOST and unusable, the host DOWN.
inline void LoseHost(ClusterView* view, const std::string& host) {
  view->MutableHost(host)->state = v1::HOST_DOWN;
  for (UnitView& u : view->units) {
    if (u.host == host) u.state = v1::UNIT_LOST;
  }
  for (SlotView& s : view->slots) {
    if (s.host != host) continue;
    s.usable = false;
    if (!s.store.empty()) s.role = v1::SLOT_LOST;
  }
  for (StoreView& st : view->stores) {
    for (CopyView& c : st.copies) {
      if (c.slot.host != host) continue;
      c.usable = false;
      c.role = v1::SLOT_LOST;
    }
  }
}

}  // namespace slotkeeper::slotmgr::tables

#endif  // SLOTKEEPER_SLOTMGR_TESTING_CLUSTER_TABLES_H_
