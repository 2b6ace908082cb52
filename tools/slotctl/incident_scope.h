// Which journal events belong to an incident: the first fault in a window
// and the events causally linked to it, as far as the events' subject fields
// (host, unit, slot, store, task) can tell.
//
// The rule:
//   1. Routine events (registrations, agent commands, audit records,
//      inventory) are never part of an incident (IncidentRole::kIgnored).
//   2. The root is the first fault in journal order (IsFault: a drive unit
//      failed, a filesystem or slot stopped working, a host fell silent or
//      its clock went wrong, a copy was found corrupt or replaced). Of the
//      faults one host's report gave in the same millisecond, the likeliest
//      cause is the root: a drive unit before a filesystem before a slot,
//      the host's list of conditions last.
//      Without any fault, the first problem of another kind (stranded mail,
//      a user stopped by the mass-deletion guard, a refused failover) is
//      the root.
//   3. From the root's time on, an event is linked when it is
//        - on the root's host, and on the root's drive unit where both the
//          root and the event name one (a slot event names no unit: any slot
//          of the host links);
//        - about a store that a linked event names (store.state, failover,
//          task.* and copy.* of that store, on any host);
//        - about a task that a linked event names;
//        - a cluster-wide automation event (no host, store or task) between
//          the root and the last event linked by the rules above.
//      Linking is repeated until nothing changes, so the order of events
//      journaled in one step does not matter (a store's state change may
//      precede the slot event that names the store).
//   Recoveries (unit.online, store.state healthy, task.done) link by the
//   same rules: they are about a linked host, unit, store or task.
//
// Limits: the journal says nothing about why, only about what: an unrelated
// fault on the root's host at the same time (a slot event, which names no
// unit) is taken in; a store placed onto a linked store's new host by chance
// is not, unless an event names it with a linked store. Hosts never spread
// the incident: a failover target's host is not linked, so its other stores
// stay out. Events before the root (seeding finished before the outage) are
// never linked. Only the first fault's incident is written up; the problems
// left out are counted (IncidentScope::unlinked_problems).
//
// Pure functions; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SCOPE_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SCOPE_H_

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

// How an event reads in the post.
enum class IncidentRole {
  kIgnored,   // routine (registrations, agent commands, audit): left out
  kProblem,   // something broke or was detected
  kAction,    // what the system (or an operator) did about it
  kRecovery,  // something came back
};

// Classifies by the event's kind ("host.down", "store.failover",
// "task.done", ...) and severity.
IncidentRole ClassifyEvent(const v1::Event& event);

// A fault of hardware or a host, which can start an incident: unit.failed,
// a serious filesystem.state or host.conditions, slot.unusable,
// slot.not_serving, slot.corrupt_files, slot.identity_changed,
// host.suspect, host.down, host.clock_skewed.
bool IsFault(const v1::Event& event);

struct IncidentScope {
  // The linked events in journal order; the root is events[root_index].
  // Empty when the window holds no problem.
  std::vector<v1::Event> events;
  size_t root_index = 0;
  // Stores and tasks named by linked events.
  std::set<std::string> stores;
  std::set<std::string> tasks;
  // Events of the window, and problems in it that are not linked (another
  // incident, or before this one).
  size_t window_events = 0;
  size_t unlinked_problems = 0;

  bool empty() const { return events.empty(); }
  const v1::Event& root() const { return events[root_index]; }
};

// `window` in any order (sorted by seq here).
IncidentScope ScopeIncident(std::vector<v1::Event> window);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SCOPE_H_
