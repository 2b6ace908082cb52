#include "tools/slotctl/incident_summary.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "tools/slotctl/incident_timeline.h"
#include "tools/slotctl/render.h"

namespace slotkeeper::slotctl {
namespace {

// Up to five names, then "and N more".
std::string NamesText(const std::set<std::string>& names) {
  constexpr size_t kNamed = 5;
  std::vector<std::string> shown(names.begin(), names.end());
  if (shown.size() <= kNamed) return absl::StrJoin(shown, ", ");
  shown.resize(kNamed);
  return absl::StrCat(absl::StrJoin(shown, ", "), " and ", names.size() - kNamed, " more");
}

namespace ek = event_kind;

// Walks the linked events of one store in journal order.
void Observe(StoreOutcome& s, const v1::Event& e, int64_t start_ms) {
  if (e.kind() == ek::kStoreState) {
    const bool no_master = e.severity() == v1::CRITICAL;
    if (no_master && s.unavailable_since_ms == 0) s.unavailable_since_ms = e.time_ms();
    if (!no_master && s.unavailable_since_ms != 0) {
      s.unavailable_ms += e.time_ms() - s.unavailable_since_ms;
      s.unavailable_since_ms = 0;
    }
    const bool healthy = e.severity() == v1::INFO;
    if (!healthy) s.left_healthy = true;
    if (healthy) s.healthy_ms = e.time_ms();
    s.healthy_now = healthy;
    return;
  }
  if (e.kind() == ek::kStoreFailover && s.failover_ms == 0) {
    s.failover_ms = e.time_ms();
    const int64_t from = s.unavailable_since_ms != 0 ? s.unavailable_since_ms : start_ms;
    s.failover_after_ms = e.time_ms() - from;
    s.failover_to = e.host().empty() ? "" : absl::StrCat(e.host(), "/", e.slot());
  }
}

std::vector<StoreOutcome> Outcomes(const IncidentScope& scope,
                                   const std::vector<v1::StoreInfo>& stores) {
  const int64_t start_ms = scope.root().time_ms();
  std::map<std::string, StoreOutcome> by_name;
  for (const std::string& name : scope.stores) by_name[name].store = name;
  for (const v1::Event& e : scope.events) {
    if (!e.store().empty()) Observe(by_name[e.store()], e, start_ms);
  }
  for (const v1::StoreInfo& info : stores) {
    auto it = by_name.find(info.name());
    // No user routed to a store that holds mail: the count is not to be
    // trusted (user names that collide across stores are routed to one).
    if (it != by_name.end() && (info.user_count() > 0 || info.used_bytes() == 0)) {
      it->second.users = info.user_count();
    }
  }
  std::vector<StoreOutcome> out;
  for (auto& [name, s] : by_name) out.push_back(std::move(s));
  return out;
}

void TaskFigures(const IncidentScope& scope, IncidentSummary& sum) {
  for (const v1::Event& e : scope.events) {
    if (e.kind() != ek::kTaskDone) continue;
    ++sum.tasks_done;
    if (std::optional<uint64_t> bytes = BytesCopied(e.text())) {
      sum.bytes_moved += *bytes;
    } else {
      ++sum.tasks_bytes_unknown;
    }
  }
}

void StoreFigures(IncidentSummary& sum) {
  bool users_known = true;
  uint64_t users = 0;
  bool any_affected = false, all_healthy = true;
  int64_t last_healthy = 0;
  for (const StoreOutcome& s : sum.stores) {
    const bool unavailable = s.unavailable_ms > 0 || s.unavailable_since_ms != 0;
    if (unavailable) {
      if (s.users) users += *s.users;
      users_known &= s.users.has_value();
      sum.longest_unavailable_ms = std::max(sum.longest_unavailable_ms, s.unavailable_ms);
    }
    if (s.left_healthy) {
      any_affected = true;
      all_healthy &= s.healthy_now;
      last_healthy = std::max(last_healthy, s.healthy_ms);
    }
  }
  if (users_known) sum.users_affected = users;
  sum.redundancy_restored = any_affected && all_healthy;
  if (sum.redundancy_restored) sum.redundancy_ms = last_healthy - sum.start_ms;
}

void OpenStores(const v1::ClusterStatus& status, std::vector<OpenItem>& open) {
  for (const v1::StoreInfo& s : status.troubled_stores()) {
    const std::string store = StoresText({s.name()});
    if (s.state() == v1::STORE_NO_MASTER || s.state() == v1::STORE_UNAVAILABLE) {
      open.push_back({OpenItem::kOutage, s.name(),
                      absl::StrCat("Mail for ", store,
                                   " cannot be delivered or read yet; incoming mail waits and is "
                                   "delivered once it is restored.")});
    } else if (s.state() == v1::STORE_DEGRADED) {
      open.push_back({OpenItem::kRisk, s.name(),
                      absl::StrCat("Store ", s.name(), " has fewer backup copies than usual.")});
    }
  }
  const v1::RecoveryProgress& r = status.recovery();
  if (r.stores_recovering() > 0 || r.tasks_running() > 0 || r.tasks_queued() > 0) {
    std::string text = absl::StrCat("Rebuilding backup copies of ", r.stores_recovering(),
                                    " store(s): ", FormatPercent(r.users_done(), r.users_total()),
                                    " of mailboxes copied");
    if (r.eta_ms() >= 0)
      absl::StrAppend(&text, ", about ", model::FormatDuration(r.eta_ms()), " left");
    open.push_back({OpenItem::kRisk, "", text + "."});
  }
}

void OpenAutomation(const v1::AutomationState& a, std::vector<OpenItem>& open) {
  if (a.mode() == v1::AUTOMATION_PAUSED || a.mode() == v1::AUTOMATION_FROZEN) {
    open.push_back({OpenItem::kRisk, "",
                    absl::StrCat("Automatic recovery is on hold while engineers work on it",
                                 a.reason().empty() ? "" : " (" + a.reason() + ")", ".")});
  }
  if (a.brake_engaged()) {
    open.push_back({OpenItem::kRisk, "",
                    "Automatic recovery is limited by a safety brake until engineers review it."});
  }
  for (const v1::PausedHost& p : a.paused_hosts()) {
    open.push_back({OpenItem::kRisk, "",
                    absl::StrCat("Automatic recovery is paused on mail server ", p.host(), ".")});
  }
}

void OpenCopies(const std::vector<v1::StoreInfo>& stores, const IncidentScope& scope,
                std::vector<OpenItem>& open) {
  for (const v1::StoreInfo& s : stores) {
    const std::string store = StoresText({s.name()});
    uint64_t stranded = 0, quarantined = 0;
    std::set<std::string> blocked;
    bool identity = false;
    for (const v1::Copy& c : s.copies()) {
      blocked.insert(c.blocked_users().begin(), c.blocked_users().end());
      stranded += c.stranded_messages();
      quarantined += c.quarantine_items();
      identity |= c.identity_changed();
    }
    if (stranded > 0) {
      open.push_back({OpenItem::kRisk, s.name(),
                      absl::StrCat(stranded, " message(s) of ", store,
                                   " are still only on its previous copy; they are kept safe and "
                                   "will be copied back.")});
    }
    if (!blocked.empty()) {
      // The mailboxes are named: the engineers who publish the post check
      // them (`slotctl user unblock`) and may leave the names out.
      open.push_back({OpenItem::kRisk, s.name(),
                      absl::StrCat("Backup copies of ", blocked.size(), " mailbox(es) of ", store,
                                   " (", NamesText(blocked),
                                   ") are not updated until engineers have checked them (the "
                                   "mass-deletion guard stopped them: much of their mail "
                                   "disappeared at the source).")});
    }
    if (identity) {
      open.push_back(
          {OpenItem::kRisk, s.name(),
           absl::StrCat("A copy of ", store,
                        " was found emptied or replaced and is not used until verified.")});
    }
    if (quarantined > 0 && scope.stores.count(s.name()) > 0) {
      open.push_back(
          {OpenItem::kFollowUp, s.name(),
           absl::StrCat(quarantined, " file(s) of ", store,
                        " were set aside on its copies (kept, not deleted) for review.")});
    }
  }
}

void OpenHosts(const v1::ClusterStatus& status, std::vector<OpenItem>& open) {
  for (const v1::HostInfo& h : status.troubled_hosts()) {
    if (h.state() == v1::HOST_SUSPECT || h.state() == v1::HOST_DOWN) {
      open.push_back({OpenItem::kFollowUp, "",
                      absl::StrCat("Mail server ", h.name(), " is still unreachable.")});
    }
    for (const v1::UnitInfo& u : h.units()) {
      if (u.state() != v1::UNIT_FAILED && u.state() != v1::UNIT_LOST) continue;
      open.push_back(
          {OpenItem::kFollowUp, "",
           absl::StrCat("The disk enclosure (", u.name(), ") on mail server ", h.name(),
                        " is out of service until it is ",
                        u.state() == v1::UNIT_LOST ? "replaced." : "repaired or replaced.")});
    }
    if (h.clock_skewed()) {
      open.push_back({OpenItem::kFollowUp, "",
                      absl::StrCat("The clock of mail server ", h.name(), " is still wrong.")});
    }
  }
}

}  // namespace

std::optional<uint64_t> BytesCopied(const std::string& text) {
  // "... (123 of 456 bytes copied)"
  static constexpr absl::string_view kTail = " bytes copied)";
  if (!absl::EndsWith(text, kTail)) return std::nullopt;
  const size_t open = text.rfind('(');
  if (open == std::string::npos) return std::nullopt;
  const absl::string_view inner =
      absl::string_view(text).substr(open + 1, text.size() - kTail.size() - open - 1);
  const size_t of = inner.find(" of ");
  uint64_t done = 0;
  if (of == absl::string_view::npos || !absl::SimpleAtoi(inner.substr(0, of), &done)) {
    return std::nullopt;
  }
  return done;
}

IncidentSummary Summarize(const IncidentScope& scope, const v1::ClusterStatus* status,
                          const std::vector<v1::StoreInfo>& stores) {
  IncidentSummary sum;
  sum.status_known = status != nullptr;
  if (!scope.empty()) {
    sum.start_ms = scope.root().time_ms();
    for (const v1::Event& e : scope.events) {
      if (e.time_ms() >= sum.start_ms && ClassifyEvent(e) == IncidentRole::kAction) {
        sum.first_action_ms = e.time_ms();
        sum.first_action_kind = e.kind();
        break;
      }
    }
    sum.stores = Outcomes(scope, stores);
    TaskFigures(scope, sum);
    StoreFigures(sum);
  }
  if (status != nullptr) {
    OpenStores(*status, sum.open);
    OpenAutomation(status->automation(), sum.open);
    OpenHosts(*status, sum.open);
  }
  OpenCopies(stores, scope, sum.open);
  std::stable_sort(sum.open.begin(), sum.open.end(),
                   [](const OpenItem& a, const OpenItem& b) { return a.severity < b.severity; });
  return sum;
}

}  // namespace slotkeeper::slotctl
