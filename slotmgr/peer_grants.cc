#include "slotmgr/peer_grants.h"

#include <map>
#include <set>

namespace slotkeeper::slotmgr {
namespace {

bool Unfinished(v1::TaskState state) {
  return state != v1::TASK_DONE && state != v1::TASK_FAILED && state != v1::TASK_CANCELLED;
}

}  // namespace

v1::PeerGrants PeerGrantsFor(const ClusterModel& model, const std::string& host) {
  // Hosts allowed per store: every copy's host, and every unfinished task's
  // target host.
  std::map<std::string, std::set<std::string>> readers;
  for (const auto& [name, store] : model.stores) {
    for (const v1::Copy& c : store.info().copies()) readers[name].insert(c.slot().host());
  }
  for (const auto& [id, task] : model.tasks) {
    if (Unfinished(task.info().state())) {
      readers[task.info().store()].insert(task.info().target().host());
    }
  }
  std::map<std::string, std::set<std::string>> by_slot;
  for (const auto& [name, store] : model.stores) {
    for (const v1::Copy& c : store.info().copies()) {
      if (c.slot().host() == host) by_slot[c.slot().slot()] = readers[name];
    }
  }
  // A task's source may be a slot whose copy is being dropped: its
  // target reads it all the same.
  for (const auto& [id, task] : model.tasks) {
    const v1::TaskInfo& t = task.info();
    if (Unfinished(t.state()) && t.source().host() == host) {
      by_slot[t.source().slot()].insert(t.target().host());
    }
  }
  v1::PeerGrants grants;
  for (const auto& [slot, hosts] : by_slot) {
    v1::SlotGrant* g = grants.add_slots();
    g->set_slot(slot);
    for (const std::string& h : hosts) g->add_hosts(h);
  }
  return grants;
}

}  // namespace slotkeeper::slotmgr
