// The cluster-wide views: status ("is mail safe?"), hosts and host, plus the
// store and automation renderings other verbs share (declared in verbs.h).
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/model_util.h"
#include "tools/slotctl/headline.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

std::string Yes(bool b) { return b ? "yes" : "no"; }

std::string ConditionLine(const v1::Condition& c, int64_t now_ms) {
  std::string subject = c.subject().empty() ? "host" : c.subject();
  std::string line = absl::StrCat(model::Name(c.type()), " on ", subject, " since ",
                                  FormatAgo(c.since_ms(), now_ms), c.hard() ? " (hard)" : "");
  if (!c.reason().empty()) absl::StrAppend(&line, ": ", c.reason());
  return line;
}

// The headline's colour: only what is well is green.
Tone HeadlineTone(MailSafety safety) {
  switch (safety) {
    case MailSafety::kAtRisk:
      return Tone::kBad;
    case MailSafety::kDoubtedEvidence:
    case MailSafety::kRedundancyReduced:
      return Tone::kWarn;
    case MailSafety::kNoStores:
      return Tone::kPlain;
    case MailSafety::kSafe:
      return Tone::kGood;
  }
  return Tone::kPlain;
}

}  // namespace

std::string AutomationLine(const v1::AutomationState& a, int64_t now_ms, bool color) {
  std::string mode = model::Name(a.mode());
  std::string line;
  switch (a.mode()) {
    case v1::AUTOMATION_RUNNING:
      line = Paint("running", Tone::kGood, color);
      break;
    case v1::AUTOMATION_PAUSED:
      line = absl::StrCat(Paint("PAUSED", Tone::kWarn, color), " by ",
                          a.set_by().empty() ? "?" : a.set_by(), " ",
                          FormatAgo(a.since_ms(), now_ms), ": ", a.reason());
      break;
    case v1::AUTOMATION_FROZEN:
      line = absl::StrCat(Paint("FROZEN by the mass-failure brake", Tone::kBad, color), " ",
                          FormatAgo(a.since_ms(), now_ms), ": ", a.reason());
      break;
    default:
      line = mode;
  }
  if (a.failover_limit() > 0) {
    absl::StrAppend(&line, " (automatic failovers in window: ", a.recent_failovers(), "/",
                    a.failover_limit(), ")");
  }
  if (a.brake_engaged()) {
    absl::StrAppend(&line, "; ", Paint("EVIDENCE BRAKE ENGAGED", Tone::kBad, color), " ",
                    FormatAgo(a.brake_since_ms(), now_ms),
                    ": nothing declared lost or re-replicated until 'slotctl automation ack'");
  }
  if (a.paused_hosts_size() > 0) {
    std::vector<std::string> hosts;
    for (const v1::PausedHost& p : a.paused_hosts()) hosts.push_back(p.host());
    absl::StrAppend(&line, "; ", Paint("paused on", Tone::kWarn, color), " ",
                    absl::StrJoin(hosts, ", "));
  }
  return line;
}

// What a drive unit waits for beyond its state: a second opinion, a
// reinstatement, flap damping ("" when nothing).
static std::string UnitNotes(const v1::UnitInfo& u, int64_t now) {
  std::vector<std::string> notes;
  if (u.second_opinion_since_ms() > 0) {
    notes.push_back(absl::StrCat("due to be declared lost: its slots are being read (since ",
                                 FormatAgo(u.second_opinion_since_ms(), now), ")"));
  }
  if (!u.held_reason().empty()) {
    notes.push_back(absl::StrCat("HELD until 'slotctl unit reinstate' (", u.held_reason(), ")"));
  }
  if (u.flap_suppressed()) {
    notes.push_back(
        absl::StrFormat("flapping (penalty %.1f): held out of placement", u.flap_penalty()));
  }
  return absl::StrJoin(notes, "; ");
}

std::string MasterName(const v1::StoreInfo& s) {
  for (const v1::Copy& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER) return ShownSlot(c.slot()) + (c.usable() ? "" : " (unusable)");
  }
  return "none";
}

void PrintStoresTable(Invocation& inv,
                      const google::protobuf::RepeatedPtrField<v1::StoreInfo>& stores, int indent) {
  Table table({"STORE", "STATE", "COPIES", "MASTER", "EPOCH", "USERS", "SIZE", "NOTE"});
  for (const v1::StoreInfo& s : stores) {
    table.AddRow({s.name(), Paint(model::Name(s.state()), StoreStateTone(s.state()), inv.color),
                  absl::StrCat(model::CountUsableCopies(s), "/", s.required_copies()),
                  MasterName(s), absl::StrCat(s.master_epoch()), absl::StrCat(s.user_count()),
                  FormatBytes(s.used_bytes()), s.note()});
  }
  table.Print(inv.out(), indent);
}

// ---------------------------------------------------------------------------

// A host of `status`'s "needing attention": its state, the units,
// filesystems and conditions that are not well.
static void PrintTroubledHost(Invocation& inv, const v1::HostInfo& h, int64_t now) {
  std::ostream& out = inv.out();
  out << "  " << h.name() << ": "
      << Paint(model::Name(h.state()), HostStateTone(h.state()), inv.color) << " since "
      << FormatAgo(h.state_since_ms(), now)
      << (h.draining() ? absl::StrCat(", ", Paint("draining", Tone::kWarn, inv.color), " (",
                                      h.drain_reason(), ")")
                       : "")
      << (h.has_automation_pause()
              ? absl::StrCat(", automation paused (", h.automation_pause().reason(), ")")
              : "")
      << (h.clock_skewed() ? absl::StrCat(", clock off by ", FormatOffset(h.clock_offset_ms()))
                           : "")
      << "\n";
  for (const v1::UnitInfo& u : h.units()) {
    const std::string notes = UnitNotes(u, now);
    if (u.state() == v1::UNIT_ONLINE && !u.draining() && notes.empty()) continue;
    out << "    unit " << u.name() << ": "
        << Paint(model::Name(u.state()), u.state() == v1::UNIT_ONLINE ? Tone::kWarn : Tone::kBad,
                 inv.color)
        << (u.failed_since_ms() ? absl::StrCat(" since ", FormatAgo(u.failed_since_ms(), now)) : "")
        << (u.replace_at_ms() == 0 ? ""
            : !u.held_reason().empty()
                ? absl::StrCat(", read again ", FormatAgo(u.replace_at_ms(), now))
            : u.replace_at_ms() > now
                ? absl::StrCat(", to be declared lost ", FormatAgo(u.replace_at_ms(), now))
                : absl::StrCat(", due to be declared lost ", FormatAgo(u.replace_at_ms(), now)))
        << (u.draining() ? ", draining" : "") << (notes.empty() ? "" : "; " + notes) << "\n";
  }
  for (const v1::FilesystemInfo& f : h.filesystems()) {
    if (f.state() == v1::FS_OK) continue;
    out << "    filesystem " << f.mount_point() << " (unit " << f.unit()
        << "): " << Paint(model::Name(f.state()), Tone::kBad, inv.color) << "\n";
  }
  for (const v1::Condition& c : h.conditions()) {
    out << "    condition " << ConditionLine(c, now) << "\n";
  }
}

// `status`'s exit code (documented in its help): mail at risk while any
// store lacks a usable master (served on doubted evidence included: the
// coordinator does not count that master usable), else degraded while any
// store has fewer copies than required.
static int MailSafetyExitCode(MailSafety safety) {
  switch (safety) {
    case MailSafety::kAtRisk:
    case MailSafety::kDoubtedEvidence:
      return kExitMailAtRisk;
    case MailSafety::kRedundancyReduced:
      return kExitDegraded;
    case MailSafety::kNoStores:
    case MailSafety::kSafe:
      return kExitOk;
  }
  return kExitMailAtRisk;
}

absl::Status RunStatus(Invocation& inv, const ParsedArgs&) {
  absl::StatusOr<v1::ClusterStatus> st = inv.Client().GetClusterStatus({});
  if (!st.ok()) return st.status();
  const Headline headline = MailHeadline(*st);
  inv.exit_code = MailSafetyExitCode(headline.safety);
  if (inv.json) {
    inv.out() << ToJson(*st) << "\n";
    return absl::OkStatus();
  }
  std::ostream& out = inv.out();
  const int64_t now = st->coordinator_time_ms() != 0 ? st->coordinator_time_ms() : inv.NowMs();
  out << "slotmgrd " << inv.server << " at " << FormatTime(now) << "\n";
  out << Paint(headline.title, HeadlineTone(headline.safety), inv.color) << ": " << headline.detail
      << "\n";
  out << "Automation: " << AutomationLine(st->automation(), now, inv.color) << "\n";

  std::vector<std::string> host_counts;
  for (const v1::HostStateCount& c : st->hosts_by_state()) {
    host_counts.push_back(absl::StrCat(c.count(), " ", model::Name(c.state())));
  }
  out << "Hosts: " << (host_counts.empty() ? "none" : absl::StrJoin(host_counts, ", ")) << "; "
      << st->hosts_draining() << " draining\n";
  out << "Slots: " << st->slots_master() << " master, " << st->slots_replica() << " replica, "
      << st->slots_seeding() << " seeding, " << st->slots_spare() << " spare, " << st->slots_lost()
      << " lost\n";
  out << "Stores: " << st->stores_total() << " total, " << st->stores_healthy() << " healthy, "
      << headline.degraded << " under-replicated, " << headline.no_master
      << " without usable master"
      << (headline.kept > 0
              ? absl::StrCat(", ", headline.kept, " served by a master on doubted evidence")
              : "")
      << "\n";

  if (st->troubled_hosts_size() > 0) {
    out << "\nHosts needing attention:\n";
    for (const v1::HostInfo& h : st->troubled_hosts()) PrintTroubledHost(inv, h, now);
  }
  if (st->troubled_stores_size() > 0) {
    out << "\nStores needing attention:\n";
    PrintStoresTable(inv, st->troubled_stores(), 2);
  }
  const v1::RecoveryProgress& r = st->recovery();
  if (r.stores_recovering() > 0 || r.tasks_running() > 0 || r.tasks_queued() > 0) {
    out << "\nRe-replication: " << r.stores_recovering() << " store(s), " << r.tasks_running()
        << " task(s) running, " << r.tasks_queued() << " queued\n"
        << "  users " << r.users_done() << "/"
        << (r.users_total() > 0 ? absl::StrCat(r.users_total()) : std::string("unknown")) << " ("
        << FormatPercent(r.users_done(), r.users_total()) << "), data "
        << FormatBytes(r.bytes_done()) << "/"
        << (r.bytes_total() > 0 ? FormatBytes(r.bytes_total()) : std::string("unknown")) << " ("
        << FormatPercent(r.bytes_done(), r.bytes_total()) << "), "
        << FormatBytes(static_cast<uint64_t>(r.bytes_per_second())) << "/s, "
        << (r.eta_ms() >= 0 ? absl::StrCat("about ", model::FormatDuration(r.eta_ms()), " left")
                            : std::string("time left unknown"))
        << "\n";
  } else {
    out << "\nRe-replication: nothing in progress\n";
  }
  return absl::OkStatus();
}

absl::Status RunHosts(Invocation& inv, const ParsedArgs&) {
  absl::StatusOr<v1::ListHostsResponse> resp = inv.Client().ListHosts({});
  if (!resp.ok()) return resp.status();
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  const int64_t now = inv.NowMs();
  Table table({"HOST", "STATE", "SINCE", "HEARD", "CLOCK", "DRAIN", "SLOTS M/R/S/L", "CONDITIONS",
               "VERSION"});
  for (const v1::HostInfo& h : resp->hosts()) {
    std::map<v1::SlotRole, int> roles;
    for (const v1::SlotInfo& s : h.slots()) roles[s.role()]++;
    table.AddRow({h.name(), Paint(model::Name(h.state()), HostStateTone(h.state()), inv.color),
                  FormatAgo(h.state_since_ms(), now), FormatAgo(h.last_heard_ms(), now),
                  Paint(FormatOffset(h.clock_offset_ms()),
                        h.clock_skewed() ? Tone::kBad : Tone::kPlain, inv.color),
                  h.draining() ? Paint("yes", Tone::kWarn, inv.color) : "no",
                  absl::StrCat(roles[v1::SLOT_MASTER], "/",
                               roles[v1::SLOT_REPLICA] + roles[v1::SLOT_SEEDING], "/",
                               roles[v1::SLOT_SPARE], "/", roles[v1::SLOT_LOST]),
                  absl::StrCat(h.conditions_size()), h.agent_version()});
  }
  table.Print(inv.out());
  return absl::OkStatus();
}

static std::string LeaseText(int64_t valid_until_ms, int64_t now) {
  if (valid_until_ms == 0) return "-";
  if (valid_until_ms > now)
    return absl::StrCat("valid ", model::FormatDuration(valid_until_ms - now));
  return absl::StrCat("expired ", FormatAgo(valid_until_ms, now));
}

absl::Status RunHost(Invocation& inv, const ParsedArgs& args) {
  const std::string& name = args.positional[0];
  if (absl::Status s = ValidateName(name, "host"); !s.ok()) return UsageError(s.message());
  v1::GetHostRequest req;
  req.set_host(name);
  absl::StatusOr<v1::HostInfo> h = inv.Client().GetHost(req);
  if (!h.ok()) return Annotate(h.status(), absl::StrCat("host \"", name, "\""));
  if (inv.json) {
    inv.out() << ToJson(*h) << "\n";
    return absl::OkStatus();
  }
  std::ostream& out = inv.out();
  const int64_t now = inv.NowMs();
  out << "Host " << h->name() << ": "
      << Paint(model::Name(h->state()), HostStateTone(h->state()), inv.color) << " since "
      << FormatAgo(h->state_since_ms(), now) << ", last heard "
      << FormatAgo(h->last_heard_ms(), now) << "\n";
  out << "  agent " << (h->agent_version().empty() ? "?" : h->agent_version()) << ", peer "
      << (h->peer_address().empty() ? "?" : h->peer_address()) << "\n";
  out << "  clock offset " << FormatOffset(h->clock_offset_ms())
      << (h->clock_skewed() ? Paint(" SKEWED: never promoted", Tone::kBad, inv.color) : "") << "\n";
  out << "  draining: "
      << (h->draining() ? absl::StrCat("yes (", h->drain_reason(), ")") : std::string("no"))
      << "\n";
  if (h->has_automation_pause()) {
    out << "  " << Paint("automation paused", Tone::kWarn, inv.color) << " by "
        << h->automation_pause().set_by() << " " << FormatAgo(h->automation_pause().since_ms(), now)
        << ": " << h->automation_pause().reason() << "\n";
  }

  out << "\nDrive units:\n";
  Table units({"UNIT", "STATE", "DEVICES", "FAILED", "LOST AT", "DRAIN", "NOTE"});
  for (const v1::UnitInfo& u : h->units()) {
    units.AddRow({u.name(),
                  Paint(model::Name(u.state()),
                        u.state() == v1::UNIT_ONLINE ? Tone::kGood : Tone::kBad, inv.color),
                  absl::StrJoin(u.devices(), ","), FormatAgo(u.failed_since_ms(), now),
                  u.replace_at_ms() ? FormatAgo(u.replace_at_ms(), now) : "-", Yes(u.draining()),
                  UnitNotes(u, now)});
  }
  units.Print(out, 2);

  out << "\nFilesystems:\n";
  Table fss({"MOUNT", "UNIT", "STATE", "SIZE", "FREE", "FREE INODES"});
  for (const v1::FilesystemInfo& f : h->filesystems()) {
    fss.AddRow({f.mount_point(), f.unit(),
                Paint(model::Name(f.state()), f.state() == v1::FS_OK ? Tone::kGood : Tone::kBad,
                      inv.color),
                FormatBytes(f.total_bytes()), FormatBytes(f.free_bytes()),
                absl::StrCat(f.free_inodes())});
  }
  fss.Print(out, 2);

  out << "\nSlots:\n";
  Table slots({"SLOT", "ROLE", "STORE", "USABLE", "USED", "CAPACITY", "LEASE", "ADDRESS", "WHY"});
  for (const v1::SlotInfo& s : h->slots()) {
    slots.AddRow({s.ref().slot(), model::Name(s.role()), s.store().empty() ? "-" : s.store(),
                  s.usable() ? "yes" : Paint("no", Tone::kBad, inv.color),
                  FormatBytes(s.used_bytes()), FormatBytes(s.capacity_bytes()),
                  LeaseText(s.lease_valid_until_ms(), now), s.service_address(),
                  s.unusable_reason()});
  }
  slots.Print(out, 2);

  out << "\nConditions:";
  if (h->conditions_size() == 0) out << " none";
  out << "\n";
  for (const v1::Condition& c : h->conditions()) {
    out << "  " << Paint(model::Name(c.type()), c.hard() ? Tone::kBad : Tone::kWarn, inv.color)
        << " on " << (c.subject().empty() ? "host" : c.subject()) << " since "
        << FormatAgo(c.since_ms(), now) << " (" << FormatTime(c.since_ms()) << ")"
        << (c.hard() ? ", hard" : ", soft") << (c.reason().empty() ? "" : ": ") << c.reason()
        << "\n";
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper::slotctl
