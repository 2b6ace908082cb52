// Data safety outside the quarantine: `user unblock` (lets the mass-deletion
// guard's block on a user go), `store reconcile` (copies mail stranded on an
// old master into the current one), and what `store STORE` says about each
// copy's data safety.
#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {

absl::StatusOr<std::map<std::string, int64_t>> ClockOffsets(Invocation& inv) {
  absl::StatusOr<v1::ListHostsResponse> hosts = inv.Client().ListHosts({});
  if (!hosts.ok()) return hosts.status();
  std::map<std::string, int64_t> offsets;
  for (const v1::HostInfo& h : hosts->hosts()) offsets[h.name()] = h.clock_offset_ms();
  return offsets;
}

namespace {

// Compact JSON indented as the proto printer does (one space a level), so
// that hand-built objects read like the others and keep their key order.
std::string Indent(absl::string_view json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  const auto new_line = [&] {
    out += '\n';
    out.append(depth, ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
    } else if ((c == '{' || c == '[') && i + 1 < json.size() &&
               (json[i + 1] == '}' || json[i + 1] == ']')) {
      out += c;
      out += json[++i];  // an empty object or list stays on its line
    } else if (c == '{' || c == '[') {
      out += c;
      ++depth;
      new_line();
    } else if (c == '}' || c == ']') {
      --depth;
      new_line();
      out += c;
    } else if (c == ',') {
      out += c;
      new_line();
    } else if (c == ':') {
      out += ": ";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& raw) {
  std::vector<std::string> fields;
  for (const auto& [key, value] : raw) fields.push_back(absl::StrCat(JsonQuote(key), ":", value));
  return Indent(absl::StrCat("{", absl::StrJoin(fields, ","), "}"));
}

namespace {

constexpr char kDefaultReason[] = "operator request (slotctl)";
// How far back `user unblock` looks for the guard's journal entries.
constexpr int64_t kEvidenceWindowMs = 7 * 24 * 3600'000LL;

std::string JsonList(const std::vector<std::string>& json_values) {
  return absl::StrCat("[", absl::StrJoin(json_values, ","), "]");
}

const v1::Copy* MasterCopy(const v1::StoreInfo& store) {
  for (const v1::Copy& c : store.copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

// The copy's scrub in one sentence; "" when the agent reported none. Its
// time is in the coordinator's clock (model.proto Copy).
std::string ScrubSentence(const v1::Copy& c, int64_t now_ms, bool color) {
  if (c.scrub_last_full_pass_ms() == 0 && c.scrub_pass_fraction() <= 0 &&
      c.scrub_corrupt_found() == 0) {
    return "";
  }
  std::string line =
      c.scrub_last_full_pass_ms() != 0
          ? absl::StrCat("last full scrub pass ", FormatAgo(c.scrub_last_full_pass_ms(), now_ms))
          : std::string("no full scrub pass yet");
  absl::StrAppend(&line, ", current pass ",
                  absl::StrFormat("%.0f%%", 100.0 * std::min(1.0, c.scrub_pass_fraction())),
                  " done");
  if (c.scrub_corrupt_found() > 0) {
    absl::StrAppend(
        &line, "; ",
        Paint(absl::StrCat(c.scrub_corrupt_found(), " corrupt file(s) found"), Tone::kBad, color),
        c.role() == v1::SLOT_MASTER ? " (a master is not repaired automatically)"
                                    : " (set aside and fetched again from the master)");
  }
  return line;
}

// What the copy's data-safety fields say, one sentence each.
std::vector<std::string> SafetySentences(const v1::StoreInfo& store, const v1::Copy& c,
                                         int64_t now_ms, bool color) {
  std::vector<std::string> out;
  const std::string slot = ShownSlot(c.slot());
  if (!c.out_of_sync_reason().empty()) {
    out.push_back(absl::StrCat("not in sync: ", c.out_of_sync_reason()));
  }
  if (c.identity_changed()) {
    out.push_back(Paint(
        "not the slot its agent knew (emptied, replaced or another filesystem mounted there); "
        "its copy is unknown until a full verification passes",
        Tone::kBad, color));
  }
  if (std::string scrub = ScrubSentence(c, now_ms, color); !scrub.empty()) {
    out.push_back(std::move(scrub));
  }
  if (c.quarantine_items() > 0 || c.quarantine_bytes() > 0) {
    out.push_back(absl::StrCat("quarantine holds ", c.quarantine_items(), " item(s), ",
                               FormatBytes(c.quarantine_bytes()),
                               " (see 'slotctl quarantine list --slot ", slot, "')"));
  }
  if (c.stranded_messages() > 0) {
    out.push_back(Paint(absl::StrCat(c.stranded_messages(),
                                     " message(s) stranded here from when it was master"),
                        Tone::kWarn, color) +
                  absl::StrCat(" (see 'slotctl store reconcile ", store.name(), "')"));
  }
  if (!c.blocked_users().empty()) {
    out.push_back(
        absl::StrCat(Paint("the mass-deletion guard stopped syncing user(s) ", Tone::kWarn, color),
                     absl::StrJoin(c.blocked_users(), ", "),
                     " (see 'slotctl user unblock USER --store ", store.name(), "')"));
  }
  return out;
}

}  // namespace

void PrintDataSafety(Invocation& inv, const v1::StoreInfo& store) {
  std::vector<std::string> lines;
  for (const v1::Copy& c : store.copies()) {
    for (const std::string& s : SafetySentences(store, c, inv.NowMs(), inv.color)) {
      lines.push_back(absl::StrCat(ShownSlot(c.slot()), ": ", s, "."));
    }
  }
  if (lines.empty()) return;
  inv.out() << "\nData safety:\n";
  for (const std::string& line : lines) inv.out() << "  " << line << "\n";
}

// ---- user unblock -----------------------------------------------------------

namespace {

// The journal entries of the guard stopping on `user` in `store`.
absl::StatusOr<std::vector<v1::Event>> GuardEvents(Invocation& inv, const std::string& store,
                                                   const std::string& user) {
  v1::ListEventsRequest req;
  req.set_store(store);
  req.set_since_ms(inv.NowMs() - kEvidenceWindowMs);
  absl::StatusOr<v1::ListEventsResponse> resp = inv.Client().ListEvents(req);
  if (!resp.ok()) return resp.status();
  std::vector<v1::Event> out;
  const std::string needle = absl::StrCat("user ", user, " ");
  for (const v1::Event& e : resp->events()) {
    if (e.kind() == event_kind::kReplicationBlocked && absl::StrContains(e.text(), needle)) {
      out.push_back(e);
    }
  }
  return out;
}

void PrintUnblockEvidence(Invocation& inv, const v1::StoreInfo& store, const std::string& user,
                          const std::vector<const v1::Copy*>& blocked,
                          const std::vector<v1::Event>& events) {
  std::ostream& out = inv.out();
  out << "User " << user << " of store " << store.name()
      << ": the mass-deletion guard stopped syncing it into " << blocked.size()
      << " copy(ies), because most of the user's mail vanished on the master " << MasterName(store)
      << "; these copies still hold it.\n";
  Table table({"SLOT", "ROLE", "IN SYNC", "LAST SYNCED", "WHY"});
  for (const v1::Copy* c : blocked) {
    table.AddRow({ShownSlot(c->slot()), model::Name(c->role()), c->in_sync() ? "yes" : "no",
                  FormatAgo(c->last_synced_ms(), inv.NowMs()), c->out_of_sync_reason()});
  }
  table.Print(out, 2);
  if (!events.empty()) {
    out << "Journal:\n";
    for (const v1::Event& e : events)
      out << "  " << FormatTime(e.time_ms()) << "  " << e.text() << "\n";
  }
  out << "Unblocking lets the next sync make these copies match the master: mail the master no\n"
      << "longer has is moved into their quarantine (see 'slotctl quarantine list --user " << user
      << "').\n";
}

absl::StatusOr<std::string> StoreOfUser(Invocation& inv, const std::string& user,
                                        const ParsedArgs& args) {
  if (args.Has("store")) return args.Get("store");
  v1::LookupUserRequest req;
  req.set_user(user);
  absl::StatusOr<v1::UserLocation> loc = inv.Client().LookupUser(req);
  if (!loc.ok()) {
    return Annotate(loc.status(),
                    absl::StrCat("user \"", user, "\" (name its store with --store)"));
  }
  return loc->store();
}

// Validates `user unblock USER` and its flags (no server call).
absl::Status CheckUnblockArgs(Invocation& inv, const ParsedArgs& args) {
  if (args.positional.size() != 2) {
    return UsageError("\"user unblock\" needs one user name: user unblock USER");
  }
  if (absl::Status s = ValidateName(args.positional[1], "user"); !s.ok()) {
    return UsageError(s.message());
  }
  if (args.Has("store")) {
    if (absl::Status s = ValidateName(args.Get("store"), "--store"); !s.ok()) {
      return UsageError(s.message());
    }
  }
  if (inv.json && !args.Has("yes") && !args.Has("dry-run")) {
    return UsageError(
        "with --json, user unblock needs --yes or --dry-run (no prompt in JSON mode)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunUserUnblock(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s = CheckUnblockArgs(inv, args); !s.ok()) return s;
  const std::string& user = args.positional[1];
  const std::string about = absl::StrCat("user unblock \"", user, "\"");
  absl::StatusOr<std::string> store_name = StoreOfUser(inv, user, args);
  if (!store_name.ok()) return store_name.status();
  v1::GetStoreRequest get;
  get.set_store(*store_name);
  absl::StatusOr<v1::StoreInfo> store = inv.Client().GetStore(get);
  if (!store.ok()) return Annotate(store.status(), absl::StrCat("store \"", *store_name, "\""));
  std::vector<const v1::Copy*> blocked;
  for (const v1::Copy& c : store->copies()) {
    if (std::count(c.blocked_users().begin(), c.blocked_users().end(), user) > 0) {
      blocked.push_back(&c);
    }
  }
  if (blocked.empty()) {
    return Annotate(absl::FailedPreconditionError(
                        absl::StrCat("no copy of ", store->name(), " reports user ", user,
                                     " blocked by the mass-deletion guard; nothing to unblock")),
                    about);
  }
  absl::StatusOr<std::vector<v1::Event>> events = GuardEvents(inv, store->name(), user);
  if (!events.ok()) return events.status();
  const bool dry_run = args.Has("dry-run");
  if (inv.json && dry_run) {
    std::vector<std::string> slots, journal;
    for (const v1::Copy* c : blocked) slots.push_back(ToJson(c->slot(), true));
    for (const v1::Event& e : *events) journal.push_back(ToJson(e, true));
    inv.out() << JsonObject({{"dry_run", "true"},
                             {"store", JsonQuote(store->name())},
                             {"user", JsonQuote(user)},
                             {"slots", JsonList(slots)},
                             {"events", JsonList(journal)}})
              << "\n";
    return absl::OkStatus();
  }
  if (!inv.json) PrintUnblockEvidence(inv, *store, user, blocked, *events);
  if (dry_run) {
    inv.out() << "Dry run: nothing changed.\n";
    return absl::OkStatus();
  }
  if (!args.Has("yes") && !Confirm(inv, absl::StrCat("Unblock user ", user, " on ", blocked.size(),
                                                     " copy(ies) of ", store->name(), " now?"))) {
    return Aborted();
  }
  v1::UnblockUserRequest req;
  req.set_store(store->name());
  req.set_user(user);
  req.set_reason(args.Get("reason", kDefaultReason));
  absl::StatusOr<v1::UnblockUserResponse> resp = inv.Client().UnblockUser(req);
  if (!resp.ok()) return Annotate(resp.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  std::vector<std::string> slots;
  for (const v1::SlotRef& s : resp->slots()) slots.push_back(ShownSlot(s));
  inv.out() << "User " << user << " unblocked on " << absl::StrJoin(slots, ", ")
            << ": the next sync applies what the master holds.\n";
  return absl::OkStatus();
}

// ---- store reconcile --------------------------------------------------------

namespace {

// What the dry run found: messages to copy, slots that hold them, slots
// whose agent could not be asked.
struct StrandedSummary {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  std::vector<std::string> sources;
  std::vector<std::string> unasked;
};

StrandedSummary Summarize(const v1::ReconcileStoreResponse& plan) {
  StrandedSummary sum;
  for (const v1::StrandedOn& on : plan.stranded()) {
    if (!on.error().empty()) sum.unasked.push_back(ShownSlot(on.slot()));
    if (on.messages().empty()) continue;
    sum.sources.push_back(ShownSlot(on.slot()));
    for (const v1::StrandedMessage& m : on.messages()) {
      ++sum.messages;
      sum.bytes += m.size();
    }
  }
  return sum;
}

void PrintStranded(Invocation& inv, const v1::StoreInfo& store,
                   const v1::ReconcileStoreResponse& plan) {
  uint64_t reported = 0;
  for (const v1::Copy& c : store.copies()) reported += c.stranded_messages();
  inv.out() << "Store " << store.name() << ": master " << MasterName(store)
            << "; its copies report " << reported << " stranded message(s).\n";
  if (plan.stranded().empty()) return;
  Table table({"ON", "MESSAGES", "SIZE", "USERS"});
  for (const v1::StrandedOn& on : plan.stranded()) {
    if (!on.error().empty()) {
      table.AddRow(
          {ShownSlot(on.slot()), "-", "-",
           Paint(absl::StrCat("could not ask its agent: ", on.error()), Tone::kBad, inv.color)});
      continue;
    }
    uint64_t bytes = 0;
    std::set<std::string> users;
    for (const v1::StrandedMessage& m : on.messages()) {
      bytes += m.size();
      users.insert(m.user());
    }
    table.AddRow({ShownSlot(on.slot()), absl::StrCat(on.messages_size()), FormatBytes(bytes),
                  absl::StrJoin(users, ", ")});
  }
  table.Print(inv.out(), 2);
}

// --from: the coordinator lists and copies from that old copy only; it must
// hold stranded mail.
absl::Status CheckFrom(const v1::SlotRef& from, const std::string& store,
                       const StrandedSummary& sum) {
  const std::string name = ShownSlot(from);
  if (std::find(sum.sources.begin(), sum.sources.end(), name) != sum.sources.end()) {
    return absl::OkStatus();
  }
  if (std::find(sum.unasked.begin(), sum.unasked.end(), name) != sum.unasked.end()) {
    return absl::UnavailableError(absl::StrCat(name, " could not be asked what it holds"));
  }
  return absl::FailedPreconditionError(absl::StrCat(name, " holds no stranded mail of ", store));
}

absl::Status CheckReconcileArgs(Invocation& inv, const ParsedArgs& args) {
  if (args.positional.size() != 2) {
    return UsageError("\"store reconcile\" needs a store name: store reconcile STORE");
  }
  if (absl::Status s = ValidateName(args.positional[1], "store"); !s.ok()) {
    return UsageError(s.message());
  }
  if (args.Has("from")) {
    absl::StatusOr<v1::SlotRef> from = ParseSlotRef(args.Get("from"), "--from");
    if (!from.ok()) return UsageError(from.status().message());
  }
  if (inv.json && !args.Has("yes") && !args.Has("dry-run")) {
    return UsageError(
        "with --json, store reconcile needs --yes or --dry-run (no prompt in JSON mode)");
  }
  return absl::OkStatus();
}

// The real run, after the plan was shown and confirmed.
absl::Status Reconcile(Invocation& inv, const v1::ReconcileStoreRequest& req,
                       const StrandedSummary& sum) {
  const std::string about = absl::StrCat("store reconcile \"", req.store(), "\"");
  absl::StatusOr<v1::ReconcileStoreResponse> resp = inv.Client().ReconcileStore(req);
  if (!resp.ok()) return Annotate(resp.status(), about);
  if (!sum.unasked.empty()) inv.exit_code = 1;
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  if (resp->command_ids().empty()) {
    inv.out() << "Nothing was stranded any more when asked; nothing copied.\n";
  } else {
    inv.out() << "Asked master " << ShownSlot(resp->master()) << " to copy the stranded mail ("
              << resp->command_ids_size()
              << " command(s): " << absl::StrJoin(resp->command_ids(), ", ")
              << "). The copies' stranded counts drop as it completes: see 'slotctl store "
              << req.store() << "'.\n";
  }
  if (!sum.unasked.empty()) {
    inv.out() << "Not asked (run again later): " << absl::StrJoin(sum.unasked, ", ") << ".\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunStoreReconcile(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s = CheckReconcileArgs(inv, args); !s.ok()) return s;
  const std::string& name = args.positional[1];
  const std::string about = absl::StrCat("store reconcile \"", name, "\"");
  v1::GetStoreRequest get;
  get.set_store(name);
  absl::StatusOr<v1::StoreInfo> store = inv.Client().GetStore(get);
  if (!store.ok()) return Annotate(store.status(), about);
  v1::ReconcileStoreRequest req;
  req.set_store(name);
  req.set_dry_run(true);
  req.set_reason(args.Get("reason", kDefaultReason));
  if (args.Has("from")) *req.add_from() = *ParseSlotRef(args.Get("from"), "--from");
  absl::StatusOr<v1::ReconcileStoreResponse> plan = inv.Client().ReconcileStore(req);
  if (!plan.ok()) return Annotate(plan.status(), about);
  const v1::Copy* master = MasterCopy(*store);
  if (!plan->has_master() && master != nullptr) *plan->mutable_master() = master->slot();
  const StrandedSummary sum = Summarize(*plan);
  if (!inv.json) PrintStranded(inv, *store, *plan);
  if (args.Has("from")) {
    if (absl::Status s = CheckFrom(*ParseSlotRef(args.Get("from"), "--from"), name, sum); !s.ok()) {
      return Annotate(s, about);
    }
  }
  if (sum.messages > 0 && (master == nullptr || !master->usable())) {
    return Annotate(absl::FailedPreconditionError(absl::StrCat(
                        "store ", name, " has no usable master to copy stranded mail into")),
                    about);
  }
  if (!sum.unasked.empty()) inv.exit_code = 1;
  if (args.Has("dry-run") || sum.messages == 0) {
    if (inv.json) {
      inv.out() << ToJson(*plan) << "\n";
    } else {
      inv.out() << (sum.messages > 0 ? "Dry run: nothing copied.\n"
                    : sum.unasked.empty()
                        ? "Nothing stranded to copy.\n"
                        : "Nothing stranded to copy from the copies that answered; run again "
                          "when the others can be asked.\n");
    }
    return absl::OkStatus();
  }
  if (!args.Has("yes") &&
      !Confirm(inv,
               absl::StrCat("Copy ", sum.messages, " stranded message(s) (", FormatBytes(sum.bytes),
                            ") from ", absl::StrJoin(sum.sources, ", "), " into ",
                            ShownSlot(master->slot()),
                            " now? Nothing is written over an existing file, and no "
                            "message deleted since the failover comes back."))) {
    return Aborted();
  }
  req.set_dry_run(false);
  return Reconcile(inv, req, sum);
}

}  // namespace slotkeeper::slotctl
