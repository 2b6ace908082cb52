#include "slotmgr/cluster_view.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

const CopyView* StoreView::master() const {
  for (const CopyView& c : copies) {
    if (c.role == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

int StoreView::PresentCopies() const {
  int n = 0;
  for (const CopyView& c : copies) n += c.role != v1::SLOT_LOST;
  return n;
}

int StoreView::UsableCopies() const {
  int n = 0;
  for (const CopyView& c : copies) n += c.usable && model::IsServingRole(c.role);
  return n;
}

int StoreView::HealthyCopies() const {
  int n = 0;
  for (const CopyView& c : copies) n += c.usable && c.in_sync && model::IsServingRole(c.role);
  return n;
}

bool StoreView::HasCopyOnHost(absl::string_view host) const {
  for (const CopyView& c : copies) {
    if (c.slot.host == host) return true;
  }
  return false;
}

std::string ClusterView::Key(absl::string_view host, absl::string_view name) {
  return absl::StrCat(host, "/", name);
}

absl::Status ClusterView::Finalize() {
  finalized_ = false;
  host_index_.clear();
  unit_index_.clear();
  filesystem_index_.clear();
  slot_index_.clear();
  store_index_.clear();

  for (int i = 0; i < static_cast<int>(hosts.size()); ++i) {
    if (hosts[i].name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("host #", i, " has no name"));
    }
    if (!host_index_.emplace(hosts[i].name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate host '", hosts[i].name, "'"));
    }
  }
  for (int i = 0; i < static_cast<int>(units.size()); ++i) {
    const UnitView& u = units[i];
    if (u.name.empty() || !host_index_.contains(u.host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unit '", u.host, "/", u.name, "' has no name or an unknown host"));
    }
    if (!unit_index_.emplace(Key(u.host, u.name), i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate unit '", u.host, "/", u.name, "'"));
    }
  }
  for (int i = 0; i < static_cast<int>(filesystems.size()); ++i) {
    const FilesystemView& f = filesystems[i];
    if (f.mount_point.empty() || !host_index_.contains(f.host)) {
      return absl::InvalidArgumentError(absl::StrCat("filesystem '", f.host, ":", f.mount_point,
                                                     "' has no mount point or an unknown host"));
    }
    if (!f.unit.empty() && !unit_index_.contains(Key(f.host, f.unit))) {
      return absl::InvalidArgumentError(absl::StrCat("filesystem '", f.host, ":", f.mount_point,
                                                     "' is on unknown unit '", f.unit, "'"));
    }
    if (!filesystem_index_.emplace(Key(f.host, f.mount_point), i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate filesystem '", f.host, ":", f.mount_point, "'"));
    }
  }
  for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
    const SlotView& s = slots[i];
    const std::string name = Key(s.host, s.name);
    if (s.name.empty() || !host_index_.contains(s.host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot '", name, "' has no name or an unknown host"));
    }
    if (!s.unit.empty() && !unit_index_.contains(Key(s.host, s.unit))) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot '", name, "' is on unknown unit '", s.unit, "'"));
    }
    if (!s.filesystem.empty() && !filesystem_index_.contains(Key(s.host, s.filesystem))) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot '", name, "' is on unknown filesystem '", s.filesystem, "'"));
    }
    if (!slot_index_.emplace(name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate slot '", name, "'"));
    }
  }
  absl::Status st = IndexStores();
  if (!st.ok()) return st;
  finalized_ = true;
  return absl::OkStatus();
}

absl::Status ClusterView::IndexStores() {
  absl::flat_hash_map<std::string, int> copy_owner;  // slot -> store index
  for (int i = 0; i < static_cast<int>(stores.size()); ++i) {
    const StoreView& st = stores[i];
    if (st.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("store #", i, " has no name"));
    }
    if (st.required_copies == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("store '", st.name, "' requires 0 copies; it needs at least 1"));
    }
    if (!store_index_.emplace(st.name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate store '", st.name, "'"));
    }
    for (const CopyView& c : st.copies) {
      const std::string slot = c.slot.ToString();
      if (!slot_index_.contains(slot)) {
        return absl::InvalidArgumentError(
            absl::StrCat("store '", st.name, "' has a copy on unknown slot '", slot, "'"));
      }
      const SlotView& slot_view = slots[slot_index_.find(slot)->second];
      if (slot_view.store != st.name) {
        return absl::InvalidArgumentError(absl::StrCat("slot '", slot, "' is a copy of store '",
                                                       st.name, "' but the slot holds '",
                                                       slot_view.store, "'"));
      }
      auto [it, inserted] = copy_owner.emplace(slot, i);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("slot '", slot, "' is a copy of both '",
                                                       stores[it->second].name, "' and '", st.name,
                                                       "'"));
      }
    }
  }
  return absl::OkStatus();
}

namespace {
template <typename Map>
int Lookup(const Map& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? -1 : it->second;
}
}  // namespace

int ClusterView::HostIndex(absl::string_view name) const {
  auto it = host_index_.find(name);
  return it == host_index_.end() ? -1 : it->second;
}

int ClusterView::SlotIndex(absl::string_view host, absl::string_view slot) const {
  return Lookup(slot_index_, Key(host, slot));
}

int ClusterView::StoreIndex(absl::string_view name) const {
  auto it = store_index_.find(name);
  return it == store_index_.end() ? -1 : it->second;
}

const HostView* ClusterView::FindHost(absl::string_view name) const {
  int i = HostIndex(name);
  return i < 0 ? nullptr : &hosts[i];
}

const UnitView* ClusterView::FindUnit(absl::string_view host, absl::string_view unit) const {
  int i = Lookup(unit_index_, Key(host, unit));
  return i < 0 ? nullptr : &units[i];
}

const FilesystemView* ClusterView::FindFilesystem(absl::string_view host,
                                                  absl::string_view mount_point) const {
  int i = Lookup(filesystem_index_, Key(host, mount_point));
  return i < 0 ? nullptr : &filesystems[i];
}

const SlotView* ClusterView::FindSlot(absl::string_view host, absl::string_view slot) const {
  int i = SlotIndex(host, slot);
  return i < 0 ? nullptr : &slots[i];
}

const StoreView* ClusterView::FindStore(absl::string_view name) const {
  int i = StoreIndex(name);
  return i < 0 ? nullptr : &stores[i];
}

HostView* ClusterView::MutableHost(absl::string_view name) {
  int i = HostIndex(name);
  return i < 0 ? nullptr : &hosts[i];
}

SlotView* ClusterView::MutableSlot(absl::string_view host, absl::string_view slot) {
  int i = SlotIndex(host, slot);
  return i < 0 ? nullptr : &slots[i];
}

StoreView* ClusterView::MutableStore(absl::string_view name) {
  int i = StoreIndex(name);
  return i < 0 ? nullptr : &stores[i];
}

std::string FormatMs(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

}  // namespace slotkeeper::slotmgr
