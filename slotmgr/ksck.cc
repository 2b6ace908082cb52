#include "slotmgr/ksck.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

struct SlotFacts {
  const v1::SlotInfo* slot = nullptr;
  const v1::UnitInfo* unit = nullptr;  // null when the filesystem is unknown
};

void Add(v1::ConsistencyReport* report, const char* severity, const std::string& store,
         const v1::SlotRef* slot, std::string text) {
  v1::ConsistencyProblem* p = report->add_problems();
  p->set_severity(severity);
  p->set_store(store);
  if (slot != nullptr) {
    p->set_host(slot->host());
    p->set_slot(slot->slot());
  }
  p->set_text(std::move(text));
}

}  // namespace

v1::ConsistencyReport CheckConsistency(const std::vector<v1::StoreInfo>& stores,
                                       const std::vector<v1::HostInfo>& hosts, int64_t max_lag_ms) {
  // HOST/SLOT -> the slot and the drive unit under it.
  std::map<std::pair<std::string, std::string>, SlotFacts> slots;
  for (const v1::HostInfo& h : hosts) {
    std::map<std::string, const v1::UnitInfo*> unit_of_fs;
    for (const v1::FilesystemInfo& f : h.filesystems()) {
      for (const v1::UnitInfo& u : h.units()) {
        if (u.name() == f.unit()) unit_of_fs[f.mount_point()] = &u;
      }
    }
    for (const v1::SlotInfo& s : h.slots()) {
      SlotFacts facts;
      facts.slot = &s;
      auto it = unit_of_fs.find(s.filesystem());
      if (it != unit_of_fs.end()) facts.unit = it->second;
      slots[{h.name(), s.ref().slot()}] = facts;
    }
  }

  v1::ConsistencyReport report;
  for (const v1::StoreInfo& store : stores) {
    const std::string& name = store.name();
    int masters = 0;
    uint32_t usable = 0;
    std::map<std::string, int> copies_per_host;
    for (const v1::Copy& c : store.copies()) {
      const std::string where = model::SlotName(c.slot());
      if (c.role() != v1::SLOT_LOST) copies_per_host[c.slot().host()]++;
      if (c.role() == v1::SLOT_MASTER) {
        ++masters;
        if (!c.usable()) {
          Add(&report, "error", name, &c.slot(),
              absl::StrCat("master ", where, " is unusable",
                           c.unusable_reason().empty() ? "" : ": ", c.unusable_reason()));
        }
      }
      if (c.usable() && (c.role() == v1::SLOT_MASTER || c.role() == v1::SLOT_REPLICA)) ++usable;
      if (c.role() == v1::SLOT_REPLICA && c.lag_ms() > max_lag_ms) {
        Add(&report, "warning", name, &c.slot(),
            absl::StrCat("replica ", where, " lags by ", model::FormatDuration(c.lag_ms()),
                         " (bound ", model::FormatDuration(max_lag_ms), ")"));
      }
      auto it = slots.find({c.slot().host(), c.slot().slot()});
      if (it == slots.end()) {
        Add(&report, "error", name, &c.slot(),
            absl::StrCat("copy on ", where, ", a slot no host reports"));
        continue;
      }
      const SlotFacts& facts = it->second;
      if (c.role() == v1::SLOT_LOST ||
          (facts.unit != nullptr && facts.unit->state() == v1::UNIT_LOST)) {
        Add(&report, "error", name, &c.slot(),
            absl::StrCat("still references ", where, " on lost drive unit ", c.slot().host(), "/",
                         facts.unit != nullptr ? facts.unit->name() : "?"));
      }
      if (facts.slot->store() != name || facts.slot->role() != c.role()) {
        Add(&report, "error", name, &c.slot(),
            absl::StrCat("host says ", where, " is ", model::Name(facts.slot->role()), " of \"",
                         facts.slot->store(), "\", store says ", model::Name(c.role())));
      }
    }
    if (masters == 0) Add(&report, "error", name, nullptr, "no master");
    if (masters > 1) Add(&report, "error", name, nullptr, absl::StrCat(masters, " masters"));
    if (usable < store.required_copies()) {
      Add(&report, "error", name, nullptr,
          absl::StrCat(usable, " of ", store.required_copies(), " required copies usable"));
    }
    for (const auto& [host, n] : copies_per_host) {
      if (n > 1) {
        Add(&report, "error", name, nullptr,
            absl::StrCat(n, " copies on host ", host, " (copies need distinct hosts)"));
      }
    }
  }
  report.set_stores_checked(stores.size());
  return report;
}

}  // namespace slotkeeper::slotmgr
