#include "tools/slotctl/incident_timeline.h"

#include <algorithm>
#include <map>

#include "absl/strings/string_view.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotctl {
namespace {

namespace ek = event_kind;

// Decisions and operators' actions: each starts a line of its own.
bool IsCause(const v1::Event& e) {
  static const std::set<absl::string_view> kCauses = {ek::kStoreFailover,
                                                      ek::kStoreFailoverRequested,
                                                      ek::kStoreFailoverRefused,
                                                      ek::kStoreFailoverRateLimited,
                                                      ek::kUnitSecondOpinion,
                                                      ek::kUnitLost,
                                                      ek::kUnitHeld,
                                                      ek::kUnitReinstated,
                                                      ek::kAutomationFrozen,
                                                      ek::kAutomationBrake,
                                                      ek::kAutomationBrakeAcknowledged,
                                                      ek::kAutomationPaused,
                                                      ek::kAutomationResumed,
                                                      ek::kAutomationHostPaused,
                                                      ek::kAutomationHostResumed,
                                                      ek::kHostDrain,
                                                      ek::kHostUndrain,
                                                      ek::kStoreReconcile,
                                                      ek::kQuarantineRestore,
                                                      ek::kUserUnblock};
  return kCauses.count(e.kind()) > 0;
}

// Decisions about stores are about their stores only: a failover's host is
// its target, where other stores live too.
bool IsStoreDecision(const v1::Event& e) {
  return !e.store().empty() && e.kind() != ek::kUnitLost && e.kind() != ek::kUnitHeld &&
         e.kind() != ek::kUnitReinstated && e.kind() != ek::kHostDrain;
}

// What a cause is about; consequences add their stores and tasks.
struct Subject {
  std::string host;
  std::string unit;
  std::set<std::string> stores;
  std::set<std::string> tasks;

  bool Covers(const v1::Event& e) const {
    if (!host.empty() && e.host() == host &&
        (unit.empty() || e.unit().empty() || e.unit() == unit)) {
      return true;
    }
    return (!e.store().empty() && stores.count(e.store()) > 0) ||
           (!e.task().empty() && tasks.count(e.task()) > 0);
  }
  void Add(const v1::Event& e) {
    if (!e.store().empty()) stores.insert(e.store());
    if (!e.task().empty()) tasks.insert(e.task());
  }
};

std::set<std::string> StoreOf(const v1::Event& e) {
  if (e.store().empty()) return {};
  return {e.store()};
}

// The sentence without its stores: events that read the same apart from
// their stores (a filesystem and the slots on it) have the same key.
std::string FoldKey(const v1::Event& e) { return IncidentSentence(e, {}); }

// Causes fold apart from their drive units too (both units of a dead host
// taken out of service in one step).
std::string CauseKey(const v1::Event& e) {
  v1::Event without = e;
  without.clear_unit();
  return FoldKey(without);
}

TimelineLine LineOf(const v1::Event& e) {
  TimelineLine line;
  line.first_ms = line.last_ms = e.time_ms();
  line.role = ClassifyEvent(e);
  line.stores = StoreOf(e);
  if (!e.unit().empty()) line.units = {e.unit()};
  line.kinds = {e.kind()};
  line.events = 1;
  return line;
}

void Merge(TimelineLine& into, const v1::Event& e) {
  into.first_ms = std::min(into.first_ms, e.time_ms());
  into.last_ms = std::max(into.last_ms, e.time_ms());
  if (!e.store().empty()) into.stores.insert(e.store());
  if (!e.unit().empty()) into.units.insert(e.unit());
  into.kinds.insert(e.kind());
  ++into.events;
}

struct Group {
  TimelineCause cause;
  const v1::Event* first = nullptr;  // for the sentence
  std::string key;
  Subject subject;
  std::map<std::string, size_t> lines;  // fold key -> consequences index
  std::vector<const v1::Event*> line_first;
};

Group NewGroup(const v1::Event& e, bool root) {
  Group g;
  g.cause.line = LineOf(e);
  g.first = &e;
  g.key = CauseKey(e);
  if (root || !IsStoreDecision(e)) {
    g.subject.host = e.host();
    g.subject.unit = e.unit();
  }
  g.subject.Add(e);
  return g;
}

void AddConsequence(Group& g, const v1::Event& e) {
  g.subject.Add(e);
  const std::string key = FoldKey(e);
  auto it = g.lines.find(key);
  if (it != g.lines.end()) {
    Merge(g.cause.consequences[it->second], e);
    return;
  }
  g.lines[key] = g.cause.consequences.size();
  g.cause.consequences.push_back(LineOf(e));
  g.line_first.push_back(&e);
}

// A slot reported unusable again (its reason changed) while it is still
// unusable: the line that first said so covers it.
class RepeatedSlots {
 public:
  // True if `e` repeats; it is counted on the line that first said so.
  bool Fold(const v1::Event& e, std::vector<Group>& groups) {
    const std::string slot = e.host() + "/" + e.slot();
    if (e.kind() == ek::kSlotUsable) unusable_.erase(slot);
    if (e.kind() != ek::kSlotUnusable || e.slot().empty()) return false;
    auto it = unusable_.find(slot);
    if (it == unusable_.end()) {
      unusable_[slot] = {0, 0, false};
      return false;
    }
    if (!it->second.placed) return false;
    ++groups[it->second.group].cause.consequences[it->second.line].events;
    return true;
  }
  // Where `e`, just added to `groups[group]`, went.
  void Placed(const v1::Event& e, const std::vector<Group>& groups, size_t group) {
    auto it = unusable_.find(e.host() + "/" + e.slot());
    if (e.kind() != ek::kSlotUnusable || it == unusable_.end() || it->second.placed) return;
    it->second = {group, groups[group].lines.at(FoldKey(e)), true};
  }

 private:
  struct Where {
    size_t group;
    size_t line;
    bool placed;
  };
  std::map<std::string, Where> unusable_;
};

// The group `e` belongs under: the latest whose subject covers it, else the
// root's (the first).
Group& Owner(std::vector<Group>& groups, const v1::Event& e) {
  for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
    if (it->subject.Covers(e)) return *it;
  }
  return groups.front();
}

void Finish(Group& g) {
  g.cause.line.text = IncidentSentence(*g.first, g.cause.line.stores, g.cause.line.units);
  for (size_t i = 0; i < g.cause.consequences.size(); ++i) {
    TimelineLine& line = g.cause.consequences[i];
    line.text = IncidentSentence(*g.line_first[i], line.stores);
  }
}

}  // namespace

std::vector<TimelineCause> BuildTimeline(const IncidentScope& scope) {
  std::vector<Group> groups;
  if (scope.empty()) return {};
  groups.push_back(NewGroup(scope.root(), true));
  RepeatedSlots repeated;
  for (size_t i = 0; i < scope.events.size(); ++i) {
    if (i == scope.root_index) continue;
    const v1::Event& e = scope.events[i];
    if (!IsCause(e)) {
      if (repeated.Fold(e, groups)) continue;
      Group& owner = Owner(groups, e);
      AddConsequence(owner, e);
      repeated.Placed(e, groups, static_cast<size_t>(&owner - groups.data()));
      continue;
    }
    Group& last = groups.back();
    if (groups.size() > 1 && last.key == CauseKey(e) &&
        last.cause.line.first_ms / 1000 == e.time_ms() / 1000) {
      Merge(last.cause.line, e);
      last.subject.Add(e);
      if (last.subject.unit != e.unit()) last.subject.unit.clear();  // the whole host
      continue;
    }
    groups.push_back(NewGroup(e, false));
  }
  std::vector<TimelineCause> out;
  for (Group& g : groups) {
    Finish(g);
    out.push_back(std::move(g.cause));
  }
  return out;
}

}  // namespace slotkeeper::slotctl
