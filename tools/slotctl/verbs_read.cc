// The read-only verbs about stores, users, tasks and the journal: stores,
// store, user, tasks, events, ksck, incident (automation: verbs_automation.cc).

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/model_util.h"
#include "tools/slotctl/event_follow.h"
#include "tools/slotctl/incident.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {

namespace {

absl::Status RunStores(Invocation& inv, const ParsedArgs& args) {
  v1::ListStoresRequest req;
  req.set_troubled_only(args.Has("troubled"));
  absl::StatusOr<v1::ListStoresResponse> resp = inv.Client().ListStores(req);
  if (!resp.ok()) return resp.status();
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  PrintStoresTable(inv, resp->stores(), 0);
  return absl::OkStatus();
}

absl::Status RunStore(Invocation& inv, const ParsedArgs& args) {
  const std::vector<std::string> create_flags = {"master", "replicas", "copies"};
  const std::vector<std::string> reconcile_flags = {"from", "dry-run", "yes", "reason"};
  if (args.positional[0] == "create") {
    if (absl::Status s = RejectFlags(args, reconcile_flags, "store create"); !s.ok()) return s;
    return RunStoreCreate(inv, args);
  }
  if (args.positional[0] == "reconcile") {
    if (absl::Status s = RejectFlags(args, create_flags, "store reconcile"); !s.ok()) return s;
    return RunStoreReconcile(inv, args);
  }
  for (const std::string& flag : create_flags) {
    if (args.Has(flag)) {
      return UsageError(absl::StrCat("--", flag, " only goes with \"store create\""));
    }
  }
  for (const std::string& flag : reconcile_flags) {
    if (args.Has(flag)) {
      return UsageError(absl::StrCat("--", flag, " only goes with \"store reconcile\""));
    }
  }
  if (args.positional.size() > 1) {
    return UsageError(
        absl::StrCat("\"store\" got an unexpected argument \"", args.positional[1], "\""));
  }
  const std::string& name = args.positional[0];
  if (absl::Status s = ValidateName(name, "store"); !s.ok()) return UsageError(s.message());
  v1::GetStoreRequest req;
  req.set_store(name);
  absl::StatusOr<v1::StoreInfo> s = inv.Client().GetStore(req);
  if (!s.ok()) return Annotate(s.status(), absl::StrCat("store \"", name, "\""));
  if (inv.json) {
    inv.out() << ToJson(*s) << "\n";
    return absl::OkStatus();
  }
  const int64_t now = inv.NowMs();
  std::ostream& out = inv.out();
  out << "Store " << s->name() << ": "
      << Paint(model::Name(s->state()), StoreStateTone(s->state()), inv.color) << ", "
      << model::CountUsableCopies(*s) << "/" << s->required_copies()
      << " usable copies, master epoch " << s->master_epoch() << "\n";
  out << "  " << s->user_count() << " users, " << FormatBytes(s->used_bytes()) << "\n";
  if (s->master_unusable_since_ms() != 0) {
    out << "  master unusable since " << FormatAgo(s->master_unusable_since_ms(), now) << "\n";
  }
  if (!s->note().empty()) out << "  " << s->note() << "\n";
  out << "\nCopies:\n";
  Table table({"SLOT", "ROLE", "USABLE", "IN SYNC", "LAG", "LAST SYNCED", "WHY"});
  for (const v1::Copy& c : s->copies()) {
    const bool is_master = c.role() == v1::SLOT_MASTER;
    table.AddRow({ShownSlot(c.slot()), model::Name(c.role()),
                  c.usable() ? "yes" : Paint("no", Tone::kBad, inv.color),
                  is_master || c.in_sync() ? "yes" : Paint("no", Tone::kWarn, inv.color),
                  is_master ? "-" : model::FormatDuration(c.lag_ms()),
                  is_master ? "-" : FormatAgo(c.last_synced_ms(), now), c.unusable_reason()});
  }
  table.Print(out, 2);
  PrintDataSafety(inv, *s);
  return absl::OkStatus();
}

std::string EndpointText(const v1::Endpoint& e) {
  return absl::StrCat(ShownSlot(e.slot()), " ",
                      e.service_address().empty() ? "-" : e.service_address(),
                      e.usable() ? "" : " (unusable)");
}

absl::Status RunUser(Invocation& inv, const ParsedArgs& args) {
  if (args.positional[0] == "unblock") return RunUserUnblock(inv, args);
  for (const char* flag : {"store", "dry-run", "yes", "reason"}) {
    if (args.Has(flag)) {
      return UsageError(absl::StrCat("--", flag, " only goes with \"user unblock\""));
    }
  }
  if (args.positional.size() > 1) {
    return UsageError(
        absl::StrCat("\"user\" got an unexpected argument \"", args.positional[1], "\""));
  }
  const std::string& name = args.positional[0];
  if (absl::Status s = ValidateName(name, "user"); !s.ok()) return UsageError(s.message());
  v1::LookupUserRequest req;
  req.set_user(name);
  absl::StatusOr<v1::UserLocation> loc = inv.Client().LookupUser(req);
  if (!loc.ok()) return Annotate(loc.status(), absl::StrCat("user \"", name, "\""));
  if (inv.json) {
    inv.out() << ToJson(*loc) << "\n";
    return absl::OkStatus();
  }
  std::ostream& out = inv.out();
  out << "User " << loc->user() << " is in store " << loc->store() << " (master epoch "
      << loc->master_epoch() << ")\n";
  out << "  master:  " << EndpointText(loc->master()) << "\n";
  for (const v1::Endpoint& e : loc->replicas()) out << "  replica: " << EndpointText(e) << "\n";
  return absl::OkStatus();
}

// The NOTE column: the task's own note about its current attempt or end;
// an earlier attempt's error only labelled as such.
std::string TaskNote(const v1::TaskInfo& t, int64_t now) {
  std::string note = t.note();
  switch (t.state()) {
    case v1::TASK_BACKOFF:
      if (note.empty()) note = t.last_error();
      if (t.next_attempt_ms() != 0) {
        note = absl::StrCat("retry ", FormatAgo(t.next_attempt_ms(), now), note.empty() ? "" : ": ",
                            note);
      }
      break;
    case v1::TASK_QUEUED:
    case v1::TASK_RUNNING:
      if (note.empty() && !t.last_error().empty()) {
        note = absl::StrCat("previous attempt failed: ", t.last_error());
      }
      break;
    case v1::TASK_FAILED:
      if (note.empty()) note = t.last_error();
      break;
    default:
      break;
  }
  return note;
}

absl::Status RunTasks(Invocation& inv, const ParsedArgs& args) {
  v1::ListTasksRequest req;
  req.set_include_finished(args.Has("all"));
  if (args.Has("store")) {
    if (absl::Status s = ValidateName(args.Get("store"), "--store"); !s.ok()) {
      return UsageError(s.message());
    }
    req.set_store(args.Get("store"));
  }
  absl::StatusOr<v1::ListTasksResponse> resp = inv.Client().ListTasks(req);
  if (!resp.ok()) return resp.status();
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  if (resp->tasks_size() == 0) {
    inv.out() << (req.include_finished() ? "No tasks.\n" : "No tasks queued or running.\n");
    return absl::OkStatus();
  }
  const int64_t now = inv.NowMs();
  Table table({"ID", "KIND", "STATE", "STORE", "FROM", "TO", "PRIO", "USERS", "DATA", "RATE",
               "LEFT", "TRIES", "NOTE"});
  for (const v1::TaskInfo& t : resp->tasks()) {
    const v1::TaskProgress& p = t.progress();
    const std::string note = TaskNote(t, now);
    table.AddRow({t.id(), model::Name(t.kind()),
                  Paint(model::Name(t.state()), TaskStateTone(t.state()), inv.color), t.store(),
                  ShownSlot(t.source()), ShownSlot(t.target()), absl::StrCat(t.priority()),
                  absl::StrCat(p.users_done(), "/",
                               p.users_total() > 0 ? absl::StrCat(p.users_total()) : "?"),
                  TaskData(p),
                  p.bytes_per_second() > 0
                      ? absl::StrCat(FormatBytes(static_cast<uint64_t>(p.bytes_per_second())), "/s")
                      : "-",
                  TaskTimeLeft(t), absl::StrCat(t.attempts()), note});
  }
  table.Print(inv.out());
  return absl::OkStatus();
}

absl::Status RunKsck(Invocation& inv, const ParsedArgs& args) {
  v1::CheckConsistencyRequest req;
  req.set_verify_data(args.Has("verify-data"));
  if (args.Has("deep") && !req.verify_data()) {
    return UsageError("--deep goes with --verify-data: ksck --verify-data --deep");
  }
  req.set_deep(args.Has("deep"));
  if (args.Has("max-lag")) {
    absl::StatusOr<absl::Duration> max_lag = ParseDuration(args.Get("max-lag", ""), "--max-lag");
    if (!max_lag.ok()) return UsageError(max_lag.status().message());
    req.set_max_lag_ms(absl::ToInt64Milliseconds(*max_lag));
  }
  absl::StatusOr<v1::ConsistencyReport> report = inv.Client().CheckConsistency(req);
  if (!report.ok()) return report.status();
  int errors = 0, warnings = 0;
  for (const v1::ConsistencyProblem& p : report->problems()) {
    (p.severity() == "warning" ? warnings : errors)++;
  }
  if (report->problems_size() > 0) inv.exit_code = 1;
  if (inv.json) {
    inv.out() << ToJson(*report) << "\n";
    return absl::OkStatus();
  }
  for (const v1::ConsistencyProblem& p : report->problems()) {
    std::vector<std::string> where;
    if (!p.store().empty()) where.push_back(absl::StrCat("store=", p.store()));
    if (!p.host().empty()) {
      where.push_back(p.slot().empty() ? absl::StrCat("host=", p.host())
                                       : absl::StrCat("slot=", p.host(), "/", p.slot()));
    }
    if (!p.user().empty()) where.push_back(absl::StrCat("user=", p.user()));
    const bool warn = p.severity() == "warning";
    inv.out() << Paint(warn ? "WARNING" : "ERROR", warn ? Tone::kWarn : Tone::kBad, inv.color)
              << " " << absl::StrJoin(where, " ") << (where.empty() ? "" : ": ") << p.text()
              << "\n";
  }
  std::string data =
      report->data_verified()
          ? absl::StrCat("data verified for ", report->users_verified(), " users",
                         req.deep() ? " (deep: every file read again)" : "")
          : (req.verify_data() ? std::string("data not verified: not every copy's agent answered")
                               : std::string("data not verified (use --verify-data)"));
  inv.out() << (report->problems_size() == 0 ? Paint("OK", Tone::kGood, inv.color)
                                             : Paint("PROBLEMS", Tone::kBad, inv.color))
            << ": " << report->stores_checked() << " stores checked, " << errors << " error(s), "
            << warnings << " warning(s); " << data << "\n";
  return absl::OkStatus();
}

absl::Status RunIncident(Invocation& inv, const ParsedArgs& args) {
  absl::StatusOr<absl::Duration> since = ParseDuration(args.Get("since", "6h"), "--since");
  if (!since.ok()) return UsageError(since.status().message());
  const std::string format = args.Get("format", "markdown");
  if (format != "markdown" && format != "json") {
    return UsageError(
        absl::StrCat("--format takes \"markdown\" or \"json\", not \"", format, "\""));
  }
  IncidentInputs in;
  in.now_ms = inv.NowMs();
  in.since_ms = in.now_ms - absl::ToInt64Milliseconds(*since);
  v1::ListEventsRequest req;
  req.set_since_ms(in.since_ms);
  // Page after page: an incident's journal is never cut short.
  absl::StatusOr<std::vector<v1::Event>> events = ReadEventWindow(inv.Client(), req);
  if (!events.ok()) return events.status();
  absl::StatusOr<v1::ClusterStatus> status = inv.Client().GetClusterStatus({});
  if (!status.ok()) return status.status();
  absl::StatusOr<v1::ListStoresResponse> stores = inv.Client().ListStores({});
  if (!stores.ok()) return stores.status();
  in.events = *std::move(events);
  in.status = &*status;
  in.stores.assign(stores->stores().begin(), stores->stores().end());
  IncidentReport report = BuildIncident(in);
  if (inv.json) {
    google::protobuf::Struct root;
    auto& fields = *root.mutable_fields();
    fields["title"].set_string_value(report.title);
    fields["status"].set_string_value(report.status);
    fields["markdown"].set_string_value(report.markdown);
    fields["events"].set_number_value(static_cast<double>(in.events.size()));
    inv.out() << ToJson(root) << "\n";
    return absl::OkStatus();
  }
  inv.out() << (format == "json" ? report.json : report.markdown);
  return absl::OkStatus();
}

}  // namespace

std::vector<VerbDef> ReadVerbs() {
  return {
      {"status",
       {"status"},
       "is mail safe? the whole cluster on one screen",
       "Shows whether every store has a usable master, hosts by state, drive units and\n"
       "filesystems with conditions, slots by role, stores that are under-replicated or\n"
       "without a usable master, re-replication progress and the automation state.\n"
       "Exit code (with --json too), for scripts and monitoring: 0 every store has a\n"
       "usable master and all its copies; 3 mail safe but some store has fewer copies\n"
       "than required; 4 MAIL AT RISK: some store has no usable master (or is served\n"
       "only on doubted evidence); 1 the status could not be read.",
       {},
       0,
       0,
       RunStatus},
      {"hosts",
       {"hosts"},
       "every host with its state, clock offset and slots",
       "",
       {},
       0,
       0,
       RunHosts},
      {"host",
       {"host HOST", "host forget HOST [--dry-run] [--yes] [--reason TEXT]"},
       "one host: units, filesystems, slots, conditions, leases; forget a host",
       "'host forget' removes a host from the coordinator's records for good: one that is\n"
       "down (or was never heard from) and holds no master, replica or seeding copy, and\n"
       "that no unfinished task copies from or into. Its lost copies are dropped from their\n"
       "stores and the commands queued for it discarded. HOST is taken exactly as the\n"
       "coordinator has it, spaces and all (quote it). The coordinator checks first and the\n"
       "refusal names what is in the way and what to do; then slotctl asks unless --yes.\n"
       "Needs the admin role.",
       {{"dry-run", false, "", "host forget: check only"},
        {"yes", false, "", "host forget: do not ask for confirmation"},
        {"reason", true, "TEXT", "host forget: recorded in the journal"}},
       1,
       2,
       RunHostVerb},
      {"stores",
       {"stores [--troubled]"},
       "every store with its state, copies and master",
       "",
       {{"troubled", false, "", "only stores that are not healthy"}},
       0,
       0,
       RunStores},
      {"store",
       {"store STORE",
        "store create STORE --master HOST/SLOT [--replicas HOST/SLOT,... | --copies N]",
        "store reconcile STORE [--from HOST/SLOT] [--dry-run] [--yes] [--reason TEXT]"},
       "one store's copies, lag and data safety; create a store; reconcile stranded mail",
       "'store STORE' also says, per copy, what its agent reports about data safety: why\n"
       "it is not in sync, a changed slot identity, the scrub and the corrupt files it\n"
       "found, the quarantine, mail stranded from when it was master, users the\n"
       "mass-deletion guard stopped on.\n"
       "'store create' declares a store on a master slot and either takes the given\n"
       "replica slots or lets the placement planner pick spare slots for --copies N copies\n"
       "in all (master included, 2..9). Copies must be on distinct hosts. The replicas are\n"
       "seeded by tasks (see 'slotctl tasks').\n"
       "'store reconcile' shows the mail stranded on old masters (delivered there before a\n"
       "failover, missing on the current master) and, once confirmed, has the master copy\n"
       "it, never over an existing file and never a message deleted since. The\n"
       "coordinator copies from every old master at once: --from only checks that the\n"
       "named one is the only one.",
       {{"master", true, "HOST/SLOT", "store create: the master slot"},
        {"replicas", true, "HOST/SLOT,...", "store create: explicit replica slots"},
        {"copies", true, "N", "store create: copies in all, placed automatically (2..9)"},
        {"from", true, "HOST/SLOT", "store reconcile: the old master expected to hold it"},
        {"dry-run", false, "", "store reconcile: show what is stranded only"},
        {"yes", false, "", "store reconcile: do not ask for confirmation"},
        {"reason", true, "TEXT", "store reconcile: recorded in the journal"}},
       1,
       2,
       RunStore},
      {"user",
       {"user USER", "user unblock USER [--store STORE] [--dry-run] [--yes] [--reason TEXT]"},
       "where a user's mail lives; let the mass-deletion guard's block on a user go",
       "The mass-deletion guard stops a replica's sync of a user whose mail mostly vanished\n"
       "on the master, so the replica keeps it. 'user unblock' shows which copies stopped\n"
       "and the journal's entries, then (once confirmed) lets those copies sync the user\n"
       "once: what the master no longer has moves into their quarantine. The store is the\n"
       "user's current one unless --store names it.",
       {{"store", true, "STORE", "user unblock: the user's store (default: looked up)"},
        {"dry-run", false, "", "user unblock: show the evidence only"},
        {"yes", false, "", "user unblock: do not ask for confirmation"},
        {"reason", true, "TEXT", "user unblock: recorded in the journal"}},
       1,
       2,
       RunUser},
      {"tasks",
       {"tasks [--all] [--store STORE]"},
       "replication tasks: queue and running",
       "",
       {{"all", false, "", "include finished tasks"},
        {"store", true, "STORE", "only this store's tasks"}},
       0,
       0,
       RunTasks},
      {"events",
       {"events [--since DURATION] [--before SEQ|TIME] [--after SEQ|TIME] [--limit N] "
        "[--store STORE] [--host HOST] [--kind KIND]",
        "events --follow [--since DURATION]"},
       "the event journal, newest first",
       "Shows the newest events first, each with its number (SEQ), and ends with how many\n"
       "more match and the command that shows them (\"... 4,213 older events; use --before\n"
       "1234 ...\"). --limit N gives the newest N (default 1000). --before SEQ|TIME pages\n"
       "back from an event or a time, --after SEQ|TIME forward (the oldest after it,\n"
       "oldest first); both give the events between. TIME is 2026-12-02T04:00:00Z or as\n"
       "printed (2026-12-02 04:00:00 UTC). The window is the last --since (default 1h),\n"
       "unless --before or --after anchors the page and --since is not given.\n"
       "With --json the page is listed oldest first, with \"remaining\" for the rest.\n"
       "DURATION is a number and a unit: 90s, 30m, 2h, 1d, 1h30m. --follow prints new\n"
       "events as they happen until interrupted (with --json: one object per line); when\n"
       "the coordinator goes away it says so on stderr, reconnects with growing pauses\n"
       "(0.5s up to 10s) and resumes after the last event it printed.\n"
       "--kind takes a kind or a subject: \"audit\" shows every operator action and\n"
       "refusal with the identity of its caller; \"store.failover\" only failovers.",
       {{"since", true, "DURATION", "how far back (default 1h)"},
        {"before", true, "SEQ|TIME", "only events before this one or this time"},
        {"after", true, "SEQ|TIME", "only events after this one or this time"},
        {"follow", false, "", "keep printing new events"},
        {"store", true, "STORE", "only events about this store"},
        {"host", true, "HOST", "only events about this host"},
        {"kind", true, "KIND", "only events of this kind, or under it (audit, store, ...)"},
        {"limit", true, "N", "the newest N events (with only --after: the oldest N)"}},
       0,
       0,
       RunEvents},
      {"ksck",
       {"ksck [--verify-data [--deep]] [--max-lag DURATION]"},
       "check the consistency of the whole cluster",
       "Checks that every store has its required copies on distinct hosts, exactly one\n"
       "usable master, no reference to a lost unit and replicas within their lag bound;\n"
       "with --verify-data, that content hashes agree on every copy for every user, and\n"
       "with --deep as well, hashes of every file read again from disk (finds silent\n"
       "corruption; slow).\n"
       "Prints one line per problem and a summary; exits 1 when problems were found.\n"
       "The coordinator runs the check; slotctl only shows it.",
       {{"verify-data", false, "", "also compare content hashes (slow: asks the agents)"},
        {"deep", false, "", "with --verify-data: agents read every file again (slower)"},
        {"max-lag", true, "DURATION",
         "warn about replicas lagging more than this (default: the coordinator's "
         "--max_failover_lag)"}},
       0,
       0,
       RunKsck},
      {"incident",
       {"incident [--since DURATION] [--format markdown|json]"},
       "the first incident in a window as a status-page post",
       "Writes the first fault in the window and what is causally linked to it (same\n"
       "host and drive unit, the stores and tasks its events name), in words for mail\n"
       "users: a summary (time to first action, how long mail was unavailable and for\n"
       "how many users, time to full redundancy, data copied), a timeline with one\n"
       "line per cause and its consequences under it, and what is still open according\n"
       "to the cluster's status now. Times to the second, with the offset from the\n"
       "first fault. --format json gives the same facts as fields; the global --json\n"
       "wraps the Markdown with its title and status.",
       {{"since", true, "DURATION", "the window (default 6h)"},
        {"format", true, "markdown|json", "markdown (default) or json"}},
       0,
       0,
       RunIncident},
  };
}

}  // namespace slotkeeper::slotctl
