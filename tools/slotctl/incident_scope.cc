#include "tools/slotctl/incident_scope.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotctl {
namespace {

// The last dot-separated word of a kind: "store.failover" -> "failover".
absl::string_view Verb(absl::string_view kind) {
  size_t dot = kind.rfind('.');
  return dot == absl::string_view::npos ? kind : kind.substr(dot + 1);
}

bool IsSerious(const v1::Event& e) {
  return e.severity() == v1::WARNING || e.severity() == v1::CRITICAL;
}

bool IsRoutine(const v1::Event& e) {
  static const std::set<absl::string_view> kRoutine = {
      event_kind::kHostRegistered,      event_kind::kHostReregistered,
      event_kind::kCoordinatorStart,    event_kind::kStoreCreated,
      event_kind::kStoreCopyRecognized, event_kind::kQuarantinePurge,
      event_kind::kHostAddressChanged};
  const std::string& kind = e.kind();
  return kRoutine.count(kind) > 0 || absl::StartsWith(kind, event_kind::kPrefixCommand) ||
         absl::StartsWith(kind, event_kind::kPrefixInventory) ||
         absl::StartsWith(kind, event_kind::kPrefixAudit);
}

bool HasSubject(const v1::Event& e) {
  return !e.host().empty() || !e.store().empty() || !e.task().empty() || !e.unit().empty();
}

// The root's host and unit, and what linked events named so far.
struct Links {
  std::string host;
  std::string unit;  // "" = the whole host
  std::set<std::string> stores;
  std::set<std::string> tasks;

  bool Linked(const v1::Event& e) const {
    if (!e.host().empty() && e.host() == host &&
        (unit.empty() || e.unit().empty() || e.unit() == unit)) {
      return true;
    }
    return (!e.store().empty() && stores.count(e.store()) > 0) ||
           (!e.task().empty() && tasks.count(e.task()) > 0);
  }
  // True if `e` named something not linked before.
  bool Add(const v1::Event& e) {
    bool grew = false;
    if (!e.store().empty()) grew |= stores.insert(e.store()).second;
    if (!e.task().empty()) grew |= tasks.insert(e.task()).second;
    return grew;
  }
};

// Among faults of one host journaled in one step, the likeliest cause
// first: a unit before what is on it, a host report last.
int CauseRank(const v1::Event& e) {
  if (e.kind() == event_kind::kUnitFailed) return 0;
  if (e.kind() == event_kind::kHostDown || e.kind() == event_kind::kHostSuspect) return 1;
  if (e.kind() == event_kind::kFilesystemState) return 2;
  if (e.kind() == event_kind::kHostConditions) return 4;
  return 3;
}

// The index of the root in `events` (sorted), or events.size().
size_t FindRoot(const std::vector<v1::Event>& events) {
  size_t first = events.size();
  for (size_t i = 0; i < events.size(); ++i) {
    if (IsFault(events[i])) {
      first = i;
      break;
    }
  }
  if (first == events.size()) {
    for (size_t i = 0; i < events.size(); ++i) {
      if (ClassifyEvent(events[i]) == IncidentRole::kProblem) return i;
    }
    return first;
  }
  // The same step: the same host's faults in the same millisecond.
  size_t root = first;
  for (size_t i = first + 1; i < events.size() && events[i].time_ms() == events[first].time_ms();
       ++i) {
    if (IsFault(events[i]) && events[i].host() == events[first].host() &&
        CauseRank(events[i]) < CauseRank(events[root])) {
      root = i;
    }
  }
  return root;
}

}  // namespace

IncidentRole ClassifyEvent(const v1::Event& e) {
  // Operators' data-safety actions: journaled as warnings, but what was done
  // about a problem rather than a problem.
  static const std::set<absl::string_view> kOperatorActions = {
      event_kind::kStoreReconcile, event_kind::kQuarantineRestore, event_kind::kUserUnblock,
      event_kind::kUnitReinstated, event_kind::kStoreFailoverRequested};
  static const std::set<absl::string_view> kRecoveryVerbs = {
      "up",         "online",         "healthy",      "cleared",           "done",
      "recovered",  "resumed",        "unfrozen",     "complete",          "restored",
      "dropped",    "usable",         "clock_ok",     "unblocked",         "serving",
      "flap_ended", "failsafe_ended", "host_resumed", "brake_acknowledged"};
  const std::string& kind = e.kind();
  const absl::string_view verb = Verb(kind);
  if (IsRoutine(e)) {
    return e.severity() == v1::CRITICAL ? IncidentRole::kProblem : IncidentRole::kIgnored;
  }
  if (kOperatorActions.count(kind) > 0) return IncidentRole::kAction;
  if (kind == event_kind::kStoreStrandedMail) return IncidentRole::kProblem;
  if (kind == event_kind::kStoreStrandedCleared) return IncidentRole::kRecovery;
  if (kind == event_kind::kStoreFinalPull) return IncidentRole::kAction;
  if (absl::EndsWith(verb, "refused") || absl::EndsWith(verb, "failed") ||
      absl::EndsWith(verb, "rate_limited") || absl::EndsWith(verb, "mismatch")) {
    return IncidentRole::kProblem;
  }
  if (kRecoveryVerbs.count(verb) > 0) return IncidentRole::kRecovery;
  // Generic transitions (store.state, filesystem.state, host.conditions):
  // bad news is serious, a return to normal is not.
  if (verb == "state" || verb == "conditions") {
    return IsSerious(e) ? IncidentRole::kProblem : IncidentRole::kRecovery;
  }
  if (absl::StartsWith(kind, event_kind::kStoreFailover) ||
      absl::StartsWith(kind, event_kind::kPrefixTask) ||
      absl::StartsWith(kind, event_kind::kPrefixPlacement) ||
      absl::StartsWith(kind, event_kind::kPrefixAutomation) || absl::StrContains(kind, "promote") ||
      absl::StrContains(kind, "drain") || kind == event_kind::kUnitLost ||
      kind == event_kind::kUnitHeld || kind == event_kind::kUnitSecondOpinion ||
      kind == event_kind::kCopyLost) {
    return IncidentRole::kAction;
  }
  return IsSerious(e) ? IncidentRole::kProblem : IncidentRole::kIgnored;
}

bool IsFault(const v1::Event& e) {
  static const std::set<absl::string_view> kAlways = {
      event_kind::kUnitFailed,       event_kind::kSlotUnusable,        event_kind::kSlotNotServing,
      event_kind::kSlotCorruptFiles, event_kind::kSlotIdentityChanged, event_kind::kHostSuspect,
      event_kind::kHostDown,         event_kind::kHostClockSkewed};
  if (kAlways.count(e.kind()) > 0) return true;
  return (e.kind() == event_kind::kFilesystemState || e.kind() == event_kind::kHostConditions) &&
         IsSerious(e);
}

IncidentScope ScopeIncident(std::vector<v1::Event> window) {
  std::stable_sort(window.begin(), window.end(),
                   [](const v1::Event& a, const v1::Event& b) { return a.seq() < b.seq(); });
  std::vector<v1::Event> events;
  for (v1::Event& e : window) {
    if (ClassifyEvent(e) != IncidentRole::kIgnored) events.push_back(std::move(e));
  }
  IncidentScope scope;
  scope.window_events = window.size();
  const size_t root = FindRoot(events);
  if (root == events.size()) return scope;

  const int64_t start_ms = events[root].time_ms();
  std::vector<bool> linked(events.size(), false);
  Links links{events[root].host(), events[root].unit(), {}, {}};
  linked[root] = true;
  links.Add(events[root]);
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t i = 0; i < events.size(); ++i) {
      if (linked[i] || events[i].time_ms() < start_ms || !links.Linked(events[i])) continue;
      linked[i] = true;
      links.Add(events[i]);
      grew = true;
    }
  }
  // Cluster-wide automation events while the incident was open.
  int64_t last_ms = start_ms;
  for (size_t i = 0; i < events.size(); ++i) {
    if (linked[i]) last_ms = std::max(last_ms, events[i].time_ms());
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i];
    if (!linked[i] && !HasSubject(e) && absl::StartsWith(e.kind(), event_kind::kPrefixAutomation) &&
        e.time_ms() >= start_ms && e.time_ms() <= last_ms) {
      linked[i] = true;
    }
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (!linked[i]) {
      if (ClassifyEvent(events[i]) == IncidentRole::kProblem) ++scope.unlinked_problems;
      continue;
    }
    if (i == root) scope.root_index = scope.events.size();
    scope.events.push_back(std::move(events[i]));
  }
  scope.stores = std::move(links.stores);
  scope.tasks = std::move(links.tasks);
  return scope;
}

}  // namespace slotkeeper::slotctl
