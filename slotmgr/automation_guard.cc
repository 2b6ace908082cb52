#include "slotmgr/automation_guard.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

constexpr int64_t kHourMs = 60 * 60'000;

std::string UnitOfMount(const v1::HostInfo& host, const std::string& mount) {
  for (const v1::FilesystemInfo& f : host.filesystems()) {
    if (f.mount_point() == mount) return f.unit();
  }
  return "";
}

std::string UnitOfSlot(const v1::HostInfo& host, const std::string& slot) {
  for (const v1::SlotInfo& s : host.slots()) {
    if (s.ref().slot() == slot) return UnitOfMount(host, s.filesystem());
  }
  return "";
}

std::string ConditionKey(const v1::Condition& c) {
  return absl::StrCat(c.type(), "|", c.subject_kind(), "|", c.subject());
}

// Drops marks at or before `cutoff_ms`.
void Prune(google::protobuf::RepeatedPtrField<Mark>* marks, int64_t cutoff_ms) {
  for (int i = marks->size() - 1; i >= 0; --i) {
    if (marks->Get(i).time_ms() <= cutoff_ms) marks->DeleteSubrange(i, 1);
  }
}

std::vector<int64_t> Times(const google::protobuf::RepeatedPtrField<Mark>& marks) {
  std::vector<int64_t> out;
  for (const Mark& m : marks) out.push_back(m.time_ms());
  return out;
}

// "their agents run v7 (2 hosts); the fleet: v6 on 8 of 10 hosts, v7 on 2":
// a bad release shows up as the evidence following one version.
std::string VersionsNote(const ClusterModel& model, const std::set<std::string>& hosts) {
  std::map<std::string, int> theirs, fleet;
  for (const auto& [name, rec] : model.hosts) {
    const std::string v =
        rec.info().agent_version().empty() ? "(unknown)" : rec.info().agent_version();
    ++fleet[v];
    if (hosts.count(name)) ++theirs[v];
  }
  auto join = [](const std::map<std::string, int>& m) {
    std::vector<std::string> parts;
    for (const auto& [v, n] : m) parts.push_back(absl::StrCat(v, " on ", n));
    return absl::StrJoin(parts, ", ");
  };
  return absl::StrCat("agent versions of those hosts: ", join(theirs), "; of all ",
                      model.hosts.size(), " hosts: ", join(fleet));
}

// Journals `text` as held back under `key` once (per process), and keeps it
// as the automation state's latest hold-back (what is held back again and
// again is neither journaled nor written again).
void HeldBack(Mutation& m, const std::string& key, const std::string& text,
              const std::string& host = "", const std::string& unit = "") {
  if (m.notices != nullptr && !m.notices->insert(key).second) return;
  if (m.automation != nullptr) {
    m.automation->mutable_state()->set_held_back(text);
    m.automation->mutable_state()->set_held_back_ms(m.now.wall_ms);
    m.txn.automation = true;
  }
  m.journal.Record(m.txn, event_kind::kAutomationHeldBack, v1::WARNING, text, host, "", "", "",
                   unit);
}

}  // namespace

std::vector<std::string> UnitsWithNewHardEvidence(const v1::HostInfo& host,
                                                  const Conditions& before,
                                                  const Conditions& after) {
  std::set<std::string> old, units;
  for (const v1::Condition& c : before) old.insert(ConditionKey(c));
  for (const v1::Condition& c : after) {
    if (!model::IsHardConditionType(c.type()) || old.count(ConditionKey(c))) continue;
    switch (c.subject_kind()) {
      case v1::SUBJECT_UNIT:
        units.insert(c.subject());
        break;
      case v1::SUBJECT_FILESYSTEM:
        units.insert(UnitOfMount(host, c.subject()));
        break;
      case v1::SUBJECT_SLOT:
        units.insert(UnitOfSlot(host, c.subject()));
        break;
      case v1::SUBJECT_HOST:
        for (const v1::UnitInfo& u : host.units()) units.insert(u.name());
        break;
      default:
        break;
    }
  }
  units.erase("");
  return {units.begin(), units.end()};
}

void NoteHardEvidence(Mutation& m, const std::string& host, const std::vector<std::string>& units) {
  if (units.empty() || m.automation == nullptr) return;
  AutomationRecord& a = *m.automation;
  const int64_t now = m.now.wall_ms;
  const GuardrailOptions options = GuardrailOptionsFrom(m.config);
  Prune(a.mutable_evidence(), now - options.evidence_window_ms);
  for (const std::string& u : units) {
    Mark* mark = a.add_evidence();
    mark->set_subject(absl::StrCat(host, "/", u));
    mark->set_time_ms(now);
  }
  m.txn.automation = true;
  if (a.state().brake_engaged()) return;
  std::vector<EvidenceArrival> arrivals;
  std::set<std::string> hosts;
  for (const Mark& mark : a.evidence()) {
    std::pair<std::string, std::string> hu = absl::StrSplit(mark.subject(), '/');
    arrivals.push_back({hu.first, hu.second, mark.time_ms()});
    hosts.insert(hu.first);
  }
  int total_units = 0;
  for (const auto& [name, rec] : m.model.hosts) {
    for (const v1::UnitInfo& u : rec.info().units()) total_units += u.state() != v1::UNIT_LOST;
  }
  const EvidenceBrakeDecision d = CheckEvidenceBrake(
      arrivals, static_cast<int>(m.model.hosts.size()), total_units, now, options);
  if (!d.engage) return;
  v1::AutomationState* st = a.mutable_state();
  st->set_brake_engaged(true);
  st->set_brake_reason(d.reason);
  st->set_brake_since_ms(now);
  m.journal.Record(
      m.txn, event_kind::kAutomationBrake, v1::CRITICAL,
      absl::StrCat("evidence brake engaged: ", d.reason, "; ", VersionsNote(m.model, hosts),
                   ". Until an operator runs `slotctl automation ack --reason ...`, automation "
                   "fails over single masters within its rate limit but declares no drive unit "
                   "lost and places no replacement copy"));
}

bool BrakeEngaged(const AutomationRecord& automation) { return automation.state().brake_engaged(); }

bool AutomationRunning(const AutomationRecord& automation) {
  return automation.state().mode() == v1::AUTOMATION_RUNNING;
}

bool BrakeKeepsServing(const AutomationRecord& automation, const v1::HostInfo& host,
                       const v1::SlotInfo& slot, const StoreRecord& store) {
  if (!BrakeEngaged(automation) || host.state() != v1::HOST_UP || slot.usable() ||
      slot.missing_from_inventory() || store.info().state() != v1::STORE_UNAVAILABLE) {
    return false;
  }
  const std::string unit = UnitOfMount(host, slot.filesystem());
  for (const v1::UnitInfo& u : host.units()) {
    if (u.name() == unit) return u.state() != v1::UNIT_LOST;
  }
  return false;
}

absl::StatusOr<v1::AutomationState> AcknowledgeBrake(Mutation& m,
                                                     const v1::AckAutomationRequest& req,
                                                     const std::string& caller) {
  if (req.reason().empty()) {
    return absl::InvalidArgumentError(
        "a reason is required to acknowledge the evidence brake (what was found)");
  }
  if (m.automation == nullptr) return absl::InternalError("no automation record");
  AutomationRecord& a = *m.automation;
  if (!a.state().brake_engaged()) {
    return absl::FailedPreconditionError(
        "the evidence brake is not engaged: nothing to acknowledge");
  }
  const std::string was = a.state().brake_reason();
  const int64_t since = a.state().brake_since_ms();
  v1::AutomationState* st = a.mutable_state();
  st->set_brake_engaged(false);
  st->clear_brake_reason();
  st->set_brake_since_ms(0);
  a.clear_evidence();
  m.txn.automation = true;
  m.journal.Record(
      m.txn, event_kind::kAutomationBrakeAcknowledged, v1::WARNING,
      absl::StrCat("evidence brake acknowledged by ", req.set_by().empty() ? "?" : req.set_by(),
                   caller.empty() ? "" : " (" + caller + ")", ": ", req.reason(),
                   "; it had held automation back for ", FormatMs(m.now.wall_ms - since), " (", was,
                   ")"));
  return AutomationStateForClients(a, m.model, m.now.wall_ms, m.config);
}

std::string HoldBackLostDeclaration(Mutation& m, const std::string& host, const std::string& unit) {
  std::string why, cause;
  const HostRecord* h = FindHost(m.model, host);
  if (m.automation != nullptr && BrakeEngaged(*m.automation)) {
    why = "the evidence brake is engaged (slotctl automation ack releases it)";
    cause = "brake";
  } else if (h != nullptr && h->info().has_automation_pause()) {
    why = absl::StrCat("automation is paused on host ", host, " (",
                       h->info().automation_pause().reason(), ")");
    cause = "paused";
  } else if (HourlyLimitDecision d = UnitsLostLimit(m, 1); !d.allowed) {
    why = absl::StrCat(d.reason, "; `slotctl mark-lost ", host, "/", unit,
                       " --force` declares it anyway");
    cause = "limit";
  }
  if (why.empty()) return why;
  HeldBack(m, absl::StrCat("lost/", host, "/", unit, "/", cause),
           absl::StrCat("drive unit ", host, "/", unit,
                        " is due to be declared lost, but not now: ", why),
           host, unit);
  return why;
}

void NoteUnitLost(Mutation& m, const std::string& host, const std::string& unit) {
  if (m.automation == nullptr) return;
  Prune(m.automation->mutable_units_lost(), m.now.wall_ms - kHourMs);
  Mark* mark = m.automation->add_units_lost();
  mark->set_subject(absl::StrCat(host, "/", unit));
  mark->set_time_ms(m.now.wall_ms);
  m.txn.automation = true;
}

HourlyLimitDecision UnitsLostLimit(const Mutation& m, int wanted) {
  std::vector<int64_t> times;
  if (m.automation != nullptr) times = Times(m.automation->units_lost());
  return CheckHourlyLimit(times, m.now.wall_ms, m.config.max_units_lost_per_hour, wanted,
                          "drive units declared lost");
}

int RereplicationBudget(const Mutation& m) {
  std::vector<int64_t> times;
  if (m.automation != nullptr) times = Times(m.automation->rereplications());
  return CheckHourlyLimit(times, m.now.wall_ms, m.config.max_rereplications_per_hour, 0, "")
      .remaining;
}

void NoteRereplications(Mutation& m, const std::vector<std::string>& stores, int waiting) {
  if (m.automation == nullptr) return;
  constexpr char kKey[] = "rereplication-limit";
  if (!stores.empty()) {
    Prune(m.automation->mutable_rereplications(), m.now.wall_ms - kHourMs);
    for (const std::string& s : stores) {
      Mark* mark = m.automation->add_rereplications();
      mark->set_subject(s);
      mark->set_time_ms(m.now.wall_ms);
    }
    m.txn.automation = true;
  }
  if (waiting == 0) {
    if (m.notices != nullptr) m.notices->erase(kKey);
    return;
  }
  const HourlyLimitDecision d =
      CheckHourlyLimit(Times(m.automation->rereplications()), m.now.wall_ms,
                       m.config.max_rereplications_per_hour, waiting, "stores re-replicated");
  HeldBack(m, kKey,
           absl::StrCat(waiting, " store(s) short of copies wait for re-replication: ", d.reason,
                        "; they are placed as the hour moves on, or by an operator's "
                        "`slotctl mark-lost --force`"));
}

absl::StatusOr<v1::AutomationState> SetHostPause(Mutation& m, const v1::SetAutomationRequest& req,
                                                 const std::string& caller) {
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kHost, req.host()));
  if (req.paused() && req.reason().empty()) {
    return absl::InvalidArgumentError("a reason is required to pause automation on a host");
  }
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(m.model, req.host()));
  v1::HostInfo* h = host->mutable_info();
  const std::string who = absl::StrCat(req.set_by().empty() ? "?" : req.set_by(),
                                       caller.empty() ? "" : " (" + caller + ")");
  if (req.paused()) {
    v1::HostPause* p = h->mutable_automation_pause();
    p->set_reason(req.reason());
    p->set_set_by(req.set_by());
    p->set_since_ms(m.now.wall_ms);
    m.journal.Record(
        m.txn, event_kind::kAutomationHostPaused, v1::WARNING,
        absl::StrCat("automation paused on host ", req.host(), " by ", who, ": ", req.reason(),
                     "; no automatic failover, lost unit or placement there"),
        req.host());
  } else {
    if (!h->has_automation_pause()) {
      return absl::FailedPreconditionError(
          absl::StrCat("automation is not paused on host ", req.host()));
    }
    h->clear_automation_pause();
    m.journal.Record(m.txn, event_kind::kAutomationHostResumed, v1::INFO,
                     absl::StrCat("automation resumed on host ", req.host(), " by ", who,
                                  req.reason().empty() ? "" : ": " + req.reason()),
                     req.host());
  }
  m.txn.hosts.insert(req.host());
  m.recompute = true;  // promotion targets change with the pause
  if (m.automation == nullptr) return v1::AutomationState();
  return AutomationStateForClients(*m.automation, m.model, m.now.wall_ms, m.config);
}

bool HostPaused(const ClusterModel& model, const std::string& host) {
  const HostRecord* h = FindHost(model, host);
  return h != nullptr && h->info().has_automation_pause();
}

void ReleaseDecayedFlaps(Mutation& m) {
  const GuardrailOptions options = GuardrailOptionsFrom(m.config);
  for (auto& [name, rec] : m.model.hosts) {
    for (v1::UnitInfo& u : *rec.mutable_info()->mutable_units()) {
      const FlapPenalty p{u.flap_penalty(), u.flap_penalty_at_ms(), u.flap_suppressed()};
      if (!FlapSuppressionEnds(p, m.now.wall_ms, options)) continue;
      u.set_flap_penalty(DecayedPenalty(p, m.now.wall_ms, options.flap_half_life_ms));
      u.set_flap_penalty_at_ms(m.now.wall_ms);
      u.set_flap_suppressed(false);
      if (u.state() == v1::UNIT_ONLINE) u.set_replace_at_ms(0);
      m.txn.hosts.insert(name);
      m.journal.Record(
          m.txn, event_kind::kUnitFlapEnded, v1::INFO,
          absl::StrCat(
              "drive unit ", name, "/", u.name(), " has not failed lately: back in placement",
              u.state() == v1::UNIT_ONLINE ? ", and no longer due to be declared lost" : ""),
          name, "", "", "", u.name());
    }
  }
}

v1::AutomationState AutomationStateForClients(const AutomationRecord& a, const ClusterModel& model,
                                              int64_t now_ms, const CoordinatorConfig& config) {
  v1::AutomationState out = a.state();
  out.set_units_lost_last_hour(
      CheckHourlyLimit(Times(a.units_lost()), now_ms, config.max_units_lost_per_hour, 0, "").used);
  out.set_units_lost_limit(config.max_units_lost_per_hour);
  out.set_rereplications_last_hour(
      CheckHourlyLimit(Times(a.rereplications()), now_ms, config.max_rereplications_per_hour, 0, "")
          .used);
  out.set_rereplication_limit(config.max_rereplications_per_hour);
  for (const auto& [name, rec] : model.hosts) {
    if (!rec.info().has_automation_pause()) continue;
    v1::PausedHost* p = out.add_paused_hosts();
    p->set_host(name);
    *p->mutable_pause() = rec.info().automation_pause();
  }
  return out;
}

}  // namespace slotkeeper::slotmgr
