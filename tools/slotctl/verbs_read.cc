// The read-only verbs about stores, users, tasks and the journal: stores,
// store, user, tasks, events, ksck, incident (automation: verbs_automation.cc).

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/model_util.h"
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
               "TRIES", "NOTE"});
  for (const v1::TaskInfo& t : resp->tasks()) {
    const v1::TaskProgress& p = t.progress();
    std::string note = t.last_error();
    if (t.state() == v1::TASK_BACKOFF && t.next_attempt_ms() != 0) {
      note = absl::StrCat("retry ", FormatAgo(t.next_attempt_ms(), now), note.empty() ? "" : ": ",
                          note);
    }
    table.AddRow({t.id(), model::Name(t.kind()),
                  Paint(model::Name(t.state()), TaskStateTone(t.state()), inv.color), t.store(),
                  ShownSlot(t.source()), ShownSlot(t.target()), absl::StrCat(t.priority()),
                  absl::StrCat(p.users_done(), "/",
                               p.users_total() > 0 ? absl::StrCat(p.users_total()) : "?"),
                  FormatPercent(p.bytes_done(), p.bytes_total()),
                  p.bytes_per_second() > 0
                      ? absl::StrCat(FormatBytes(static_cast<uint64_t>(p.bytes_per_second())), "/s")
                      : "-",
                  absl::StrCat(t.attempts()), note});
  }
  table.Print(inv.out());
  return absl::OkStatus();
}

std::string EventSubject(const v1::Event& e) {
  std::vector<std::string> parts;
  if (!e.store().empty()) parts.push_back(absl::StrCat("store=", e.store()));
  if (!e.host().empty()) {
    std::string where = e.host();
    if (!e.unit().empty()) absl::StrAppend(&where, "/", e.unit());
    if (!e.slot().empty()) absl::StrAppend(&where, "/", e.slot());
    parts.push_back(where);
  }
  if (!e.task().empty()) parts.push_back(absl::StrCat("task=", e.task()));
  return absl::StrJoin(parts, " ");
}

void PrintEventLine(Invocation& inv, const v1::Event& e) {
  if (inv.json) {
    inv.out() << ToJson(e, /*compact=*/true) << "\n";
    inv.out().flush();
    return;
  }
  Tone tone = e.severity() == v1::CRITICAL
                  ? Tone::kBad
                  : (e.severity() == v1::WARNING ? Tone::kWarn : Tone::kPlain);
  // Fixed widths rather than a Table: a follow prints lines as they come.
  const std::string severity = model::Name(e.severity());
  const std::string kind = e.kind();
  const std::string subject = EventSubject(e);
  inv.out() << FormatTime(e.time_ms()) << "  " << Paint(severity, tone, inv.color)
            << std::string(severity.size() < 8 ? 8 - severity.size() : 0, ' ') << "  " << kind
            << std::string(kind.size() < 18 ? 18 - kind.size() : 0, ' ') << "  " << subject
            << std::string(subject.size() < 24 ? 24 - subject.size() : 0, ' ') << "  " << e.text()
            << "\n";
  inv.out().flush();
}

absl::Status RunEvents(Invocation& inv, const ParsedArgs& args) {
  absl::StatusOr<absl::Duration> since = ParseDuration(args.Get("since", "1h"), "--since");
  if (!since.ok()) return UsageError(since.status().message());
  int limit = 0;
  if (args.Has("limit")) {
    absl::StatusOr<int> n = ParseIntInRange(args.Get("limit"), 1, 100000, "--limit");
    if (!n.ok()) return UsageError(n.status().message());
    limit = *n;
  }
  for (const char* f : {"store", "host", "kind"}) {
    if (!args.Has(f)) continue;
    if (absl::Status s = ValidateName(args.Get(f), absl::StrCat("--", f)); !s.ok()) {
      return UsageError(s.message());
    }
  }
  const int64_t since_ms = inv.NowMs() - absl::ToInt64Milliseconds(*since);
  if (args.Has("follow")) {
    if (args.Has("store") || args.Has("host") || args.Has("limit") || args.Has("kind")) {
      return UsageError(
          "--follow shows every event: it does not take --store, --host, --kind or --limit");
    }
    v1::WatchEventsRequest req;
    req.set_since_ms(since_ms);
    return inv.Client().WatchEvents(req, [&](const v1::Event& e) {
      PrintEventLine(inv, e);
      return inv.out().good();
    });
  }
  v1::ListEventsRequest req;
  req.set_since_ms(since_ms);
  req.set_limit(limit);
  req.set_store(args.Get("store"));
  req.set_host(args.Get("host"));
  req.set_kind(args.Get("kind"));
  absl::StatusOr<v1::ListEventsResponse> resp = inv.Client().ListEvents(req);
  if (!resp.ok()) return resp.status();
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  if (resp->events_size() == 0) inv.out() << "No events since " << FormatTime(since_ms) << ".\n";
  for (const v1::Event& e : resp->events()) PrintEventLine(inv, e);
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
  req.set_limit(100000);  // the server's most: an incident's journal is not cut short
  absl::StatusOr<v1::ListEventsResponse> events = inv.Client().ListEvents(req);
  if (!events.ok()) return events.status();
  absl::StatusOr<v1::ClusterStatus> status = inv.Client().GetClusterStatus({});
  if (!status.ok()) return status.status();
  absl::StatusOr<v1::ListStoresResponse> stores = inv.Client().ListStores({});
  if (!stores.ok()) return stores.status();
  in.events.assign(events->events().begin(), events->events().end());
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
       {"host HOST"},
       "one host: units, filesystems, slots, conditions, leases",
       "",
       {},
       1,
       1,
       RunHost},
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
       {"events [--since DURATION] [--store STORE] [--host HOST] [--kind KIND] [--limit N]",
        "events --follow [--since DURATION]"},
       "the event journal",
       "DURATION is a number and a unit: 90s, 30m, 2h, 1d, 1h30m. --follow prints new\n"
       "events as they happen until interrupted (with --json: one object per line).\n"
       "--kind takes a kind or a subject: \"audit\" shows every operator action and\n"
       "refusal with the identity of its caller; \"store.failover\" only failovers.",
       {{"since", true, "DURATION", "how far back (default 1h)"},
        {"follow", false, "", "keep printing new events"},
        {"store", true, "STORE", "only events about this store"},
        {"host", true, "HOST", "only events about this host"},
        {"kind", true, "KIND", "only events of this kind, or under it (audit, store, ...)"},
        {"limit", true, "N", "at most N events"}},
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
