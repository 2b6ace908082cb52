#include "slotmgr/lease_table.h"

#include <algorithm>

#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

void LeaseTable::RestartedWithMaster(const v1::SlotRef& slot, int64_t now_ms, int64_t lease_ms) {
  until_ms_[model::SlotName(slot)] = now_ms + lease_ms;
}

void LeaseTable::Grant(const std::string& slot, int64_t until_ms) { until_ms_[slot] = until_ms; }

void LeaseTable::Extend(const v1::SlotRef& slot, int64_t until_ms) {
  int64_t& until = until_ms_[model::SlotName(slot)];
  until = std::max(until, until_ms);
}

void LeaseTable::Release(const v1::SlotRef& slot) { until_ms_.erase(model::SlotName(slot)); }

int64_t LeaseTable::ValidUntil(const v1::SlotRef& slot) const {
  auto it = until_ms_.find(model::SlotName(slot));
  return it == until_ms_.end() ? 0 : it->second;
}

bool LeaseTable::MayBeValid(const v1::StoreInfo& store, int64_t now_ms) const {
  for (const v1::Copy& c : store.copies()) {
    auto it = until_ms_.find(model::SlotName(c.slot()));
    if (it != until_ms_.end() && it->second > now_ms) return true;
  }
  return false;
}

}  // namespace slotkeeper::slotmgr
