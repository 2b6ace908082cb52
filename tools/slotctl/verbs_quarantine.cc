// The quarantine verbs: list and show what copies set aside (files removed
// or overwritten on the master, corrupt files, stranded mail), restore one
// item into its store's current master, purge a slot's items for good.
//
// Times in a quarantine are the agent's clock; they are read against
// slotctl's clock with the host's measured offset (HostInfo.clock_offset_ms).
// Purge sends the ids of exactly the items it showed, so what is removed is
// what the operator confirmed.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

// Item ids per PurgeQuarantine call: keeps each request far below gRPC's
// message size limit.
constexpr int kPurgeBatch = 1000;
// Items shown before a purge is confirmed; the rest are counted.
constexpr int kPurgePreviewRows = 20;
// Items with this reason hold mail stranded on an old master until
// `store reconcile` copies it (StrandedMessage.quarantine_id).
constexpr char kStrandedReason[] = "stranded";

// Why an item was set aside, in words (peer.proto QuarantineItem.reason).
std::string ReasonText(const std::string& reason) {
  static const auto* kWords = new std::map<std::string, std::string>{
      {"removed", "removed: gone from the master"},
      {"overwritten", "overwritten: replaced by other content"},
      {"released", "released: the slot left the store"},
      {"corrupt", "corrupt: a scrub found its content differs from its hash"},
      {kStrandedReason, "stranded: an old master's message its new master lacked"},
  };
  auto it = kWords->find(reason);
  return it == kWords->end() ? reason : it->second;
}

// Where to look: a store (every copy) or one slot, and whose items.
struct Scope {
  v1::ListQuarantineItemsRequest request;
  bool store_of_user = false;  // the store is the --user's, looked up
};

// Validates --store, --slot and --user (no server call).
absl::StatusOr<Scope> ParseScope(const ParsedArgs& args, absl::string_view sub) {
  Scope scope;
  if (args.Has("store") && args.Has("slot")) return UsageError("give --store or --slot, not both");
  if (args.Has("user")) {
    if (absl::Status s = ValidateName(args.Get("user"), "--user"); !s.ok()) {
      return UsageError(s.message());
    }
    scope.request.set_user(args.Get("user"));
  }
  if (args.Has("slot")) {
    absl::StatusOr<v1::SlotRef> slot = ParseSlotRef(args.Get("slot"), "--slot");
    if (!slot.ok()) return UsageError(slot.status().message());
    scope.request.set_host(slot->host());
    scope.request.set_slot(slot->slot());
  } else if (args.Has("store")) {
    if (absl::Status s = ValidateName(args.Get("store"), "--store"); !s.ok()) {
      return UsageError(s.message());
    }
    scope.request.set_store(args.Get("store"));
  } else if (args.Has("user")) {
    scope.store_of_user = true;
  } else {
    return UsageError(absl::StrCat("\"quarantine ", sub,
                                   "\" needs --store STORE, --slot HOST/SLOT or --user USER"));
  }
  return scope;
}

std::string ScopeName(const v1::ListQuarantineItemsRequest& req) {
  std::string where = req.slot().empty() ? absl::StrCat("store ", req.store())
                                         : absl::StrCat(req.host(), "/", req.slot());
  if (!req.user().empty()) absl::StrAppend(&where, " (user ", req.user(), ")");
  return where;
}

// Asks the coordinator (after finding the user's store when needed).
absl::StatusOr<v1::ListQuarantineItemsResponse> ListScope(Invocation& inv, Scope& scope) {
  if (scope.store_of_user) {
    v1::LookupUserRequest lookup;
    lookup.set_user(scope.request.user());
    absl::StatusOr<v1::UserLocation> loc = inv.Client().LookupUser(lookup);
    if (!loc.ok()) return Annotate(loc.status(), absl::StrCat("user \"", lookup.user(), "\""));
    scope.request.set_store(loc->store());
  }
  absl::StatusOr<v1::ListQuarantineItemsResponse> resp = inv.Client().ListQuarantine(scope.request);
  if (!resp.ok()) {
    return Annotate(resp.status(), absl::StrCat("quarantine of ", ScopeName(scope.request)));
  }
  return resp;
}

// One slot's listing; an agent that could not be asked is an error.
absl::StatusOr<v1::SlotQuarantine> ListOneSlot(Invocation& inv, Scope& scope) {
  absl::StatusOr<v1::ListQuarantineItemsResponse> resp = ListScope(inv, scope);
  if (!resp.ok()) return resp.status();
  if (resp->slots_size() != 1) {
    return absl::InternalError(
        absl::StrCat("the coordinator listed ", resp->slots_size(), " slots for one slot"));
  }
  const v1::SlotQuarantine& sq = resp->slots(0);
  if (!sq.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot list the quarantine of ", ShownSlot(sq.slot()), ": ", sq.error()));
  }
  return sq;
}

// "Now" on the agent's clock of `slot`'s host.
int64_t AgentNow(const Invocation& inv, const std::map<std::string, int64_t>& offsets,
                 const v1::SlotRef& slot) {
  auto it = offsets.find(slot.host());
  return inv.NowMs() + (it == offsets.end() ? 0 : it->second);
}

std::string Age(const v1::QuarantineItem& item, int64_t agent_now_ms) {
  return model::FormatDuration(std::max<int64_t>(0, agent_now_ms - item.quarantined_ms()));
}

Table ItemTable() { return Table({"SLOT", "USER", "PATH", "SIZE", "REASON", "AGE", "ID"}); }

void AddItemRow(Table& table, const v1::SlotRef& slot, const v1::QuarantineItem& item,
                int64_t agent_now_ms) {
  table.AddRow({ShownSlot(slot), item.user(), item.path(), FormatBytes(item.size()), item.reason(),
                Age(item, agent_now_ms), item.id()});
}

bool Matches(const v1::QuarantineItem& item, const std::string& name) {
  return item.id() == name || item.path() == name ||
         (!item.maildir_key().empty() && item.maildir_key() == name);
}

bool AnyItems(const v1::ListQuarantineItemsResponse& resp) {
  for (const v1::SlotQuarantine& sq : resp.slots()) {
    if (sq.items_size() > 0) return true;
  }
  return false;
}

// Every slot answered and holds nothing (for the user, if one was named).
bool AllEmpty(const v1::ListQuarantineItemsResponse& resp) {
  for (const v1::SlotQuarantine& sq : resp.slots()) {
    if (!sq.error().empty() || sq.total_items() > 0) return false;
  }
  return true;
}

// One line per slot: its totals, or why its agent could not be asked.
void PrintSlotTotals(Invocation& inv, const v1::ListQuarantineItemsResponse& resp) {
  for (const v1::SlotQuarantine& sq : resp.slots()) {
    std::string line = absl::StrCat(ShownSlot(sq.slot()),
                                    sq.store().empty() ? "" : absl::StrCat(" (", sq.store(), ")"));
    if (!sq.error().empty()) {
      absl::StrAppend(&line, ": ", Paint("could not ask its agent", Tone::kBad, inv.color), ": ",
                      sq.error());
    } else if (sq.total_items() == 0) {
      absl::StrAppend(&line, ": nothing in quarantine");
    } else {
      absl::StrAppend(&line, ": ", sq.total_items(), " item(s), ", FormatBytes(sq.total_bytes()),
                      " in quarantine");
      if (static_cast<uint64_t>(sq.items_size()) < sq.total_items()) {
        absl::StrAppend(&line, "; ", sq.items_size(), " shown");
      }
    }
    inv.out() << line << "\n";
  }
}

absl::Status RunQuarantineList(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s = RejectFlags(
          args, {"older-than", "include-stranded", "reason", "yes", "dry-run"}, "quarantine list");
      !s.ok()) {
    return s;
  }
  if (args.positional.size() > 1) {
    return UsageError(absl::StrCat("\"quarantine list\" got an unexpected argument \"",
                                   args.positional[1], "\""));
  }
  absl::StatusOr<Scope> scope = ParseScope(args, "list");
  if (!scope.ok()) return scope.status();
  if (args.Has("limit")) {
    absl::StatusOr<int> n = ParseIntInRange(args.Get("limit"), 1, 100000, "--limit");
    if (!n.ok()) return UsageError(n.status().message());
    scope->request.set_limit(*n);
  }
  absl::StatusOr<v1::ListQuarantineItemsResponse> resp = ListScope(inv, *scope);
  if (!resp.ok()) return resp.status();
  for (const v1::SlotQuarantine& sq : resp->slots()) {
    if (!sq.error().empty()) inv.exit_code = 1;
  }
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  if (AnyItems(*resp)) {
    absl::StatusOr<std::map<std::string, int64_t>> offsets = ClockOffsets(inv);
    if (!offsets.ok()) return offsets.status();
    Table table = ItemTable();
    for (const v1::SlotQuarantine& sq : resp->slots()) {
      for (const v1::QuarantineItem& item : sq.items()) {
        AddItemRow(table, sq.slot(), item, AgentNow(inv, *offsets, sq.slot()));
      }
    }
    table.Print(inv.out());
    inv.out() << "\n";
  } else if (AllEmpty(*resp)) {
    inv.out() << "No quarantined items in " << ScopeName(scope->request) << ".\n";
  }
  PrintSlotTotals(inv, *resp);
  return absl::OkStatus();
}

void PrintItemDetail(Invocation& inv, const v1::SlotQuarantine& sq, const v1::QuarantineItem& item,
                     int64_t offset_ms) {
  const int64_t local_ms = item.quarantined_ms() - offset_ms;
  inv.out() << "Item " << item.id() << " in the quarantine of " << ShownSlot(sq.slot())
            << (sq.store().empty() ? "" : absl::StrCat(" (store ", sq.store(), ")")) << "\n";
  Table table({"", ""});
  table.AddRow({"user", item.user()});
  table.AddRow({"path", item.path()});
  table.AddRow({"size", absl::StrCat(FormatBytes(item.size()), " (", item.size(), " bytes)")});
  table.AddRow({"reason", ReasonText(item.reason())});
  table.AddRow({"quarantined",
                absl::StrCat(FormatTime(local_ms), " (", FormatAgo(local_ms, inv.NowMs()), ")")});
  if (!item.maildir_key().empty()) table.AddRow({"message", item.maildir_key()});
  if (!item.hash().empty()) table.AddRow({"hash", absl::BytesToHexString(item.hash())});
  table.AddRow({"restore with", absl::StrCat("slotctl quarantine restore --slot ",
                                             ShownSlot(sq.slot()), " '", item.id(), "'")});
  table.Print(inv.out(), 2, /*with_header=*/false);
}

absl::Status RunQuarantineShow(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s =
          RejectFlags(args, {"limit", "older-than", "include-stranded", "reason", "yes", "dry-run"},
                      "quarantine show");
      !s.ok()) {
    return s;
  }
  if (args.positional.size() < 2) {
    return UsageError(
        "\"quarantine show\" needs an item: quarantine show ID-or-PATH --store STORE");
  }
  absl::StatusOr<Scope> scope = ParseScope(args, "show");
  if (!scope.ok()) return scope.status();
  const std::vector<std::string> wanted(args.positional.begin() + 1, args.positional.end());
  absl::StatusOr<v1::ListQuarantineItemsResponse> resp = ListScope(inv, *scope);
  if (!resp.ok()) return resp.status();
  v1::ListQuarantineItemsResponse found;
  std::set<std::string> matched;
  std::vector<std::string> unasked;
  for (const v1::SlotQuarantine& sq : resp->slots()) {
    if (!sq.error().empty()) unasked.push_back(ShownSlot(sq.slot()));
    v1::SlotQuarantine hits = sq;
    hits.clear_items();
    for (const v1::QuarantineItem& item : sq.items()) {
      for (const std::string& name : wanted) {
        if (!Matches(item, name)) continue;
        matched.insert(name);
        *hits.add_items() = item;
        break;
      }
    }
    if (hits.items_size() > 0) *found.add_slots() = std::move(hits);
  }
  std::vector<std::string> missing;
  for (const std::string& name : wanted) {
    if (matched.count(name) == 0) missing.push_back(absl::StrCat("\"", name, "\""));
  }
  if (inv.json && missing.empty()) {
    inv.out() << ToJson(found) << "\n";
  } else if (!inv.json && found.slots_size() > 0) {
    absl::StatusOr<std::map<std::string, int64_t>> offsets = ClockOffsets(inv);
    if (!offsets.ok()) return offsets.status();
    bool first = true;
    for (const v1::SlotQuarantine& sq : found.slots()) {
      for (const v1::QuarantineItem& item : sq.items()) {
        if (!first) inv.out() << "\n";
        first = false;
        PrintItemDetail(inv, sq, item, AgentNow(inv, *offsets, sq.slot()) - inv.NowMs());
      }
    }
  }
  if (missing.empty()) return absl::OkStatus();
  // With --json the error alone is printed: one object on stdout.
  return absl::NotFoundError(absl::StrCat(
      "no quarantined item ", absl::StrJoin(missing, ", "), " in ", ScopeName(scope->request),
      unasked.empty() ? "" : absl::StrCat(" (not asked: ", absl::StrJoin(unasked, ", "), ")")));
}

// The one item of `sq` that `name` (an id, a path or a message key) names.
absl::StatusOr<v1::QuarantineItem> FindItem(const v1::SlotQuarantine& sq, const std::string& name) {
  std::vector<const v1::QuarantineItem*> hits;
  for (const v1::QuarantineItem& item : sq.items()) {
    if (item.id() == name) return item;
    if (Matches(item, name)) hits.push_back(&item);
  }
  if (hits.size() == 1) return *hits[0];
  if (hits.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no item \"", name, "\" in the quarantine of ", ShownSlot(sq.slot()),
                     " (see 'slotctl quarantine list --slot ", ShownSlot(sq.slot()), "')"));
  }
  std::vector<std::string> ids;
  for (const v1::QuarantineItem* item : hits) ids.push_back(item->id());
  return absl::InvalidArgumentError(
      absl::StrCat("\"", name, "\" names ", hits.size(), " items in the quarantine of ",
                   ShownSlot(sq.slot()), "; give one id: ", absl::StrJoin(ids, ", ")));
}

// --slot is required; with --json, --yes or --dry-run too.
absl::Status CheckActionFlags(Invocation& inv, const ParsedArgs& args, absl::string_view sub) {
  if (!args.Has("slot")) {
    return UsageError(absl::StrCat("\"quarantine ", sub, "\" needs --slot HOST/SLOT"));
  }
  if (inv.json && !args.Has("yes") && !args.Has("dry-run")) {
    return UsageError(absl::StrCat("with --json, quarantine ", sub,
                                   " needs --yes or --dry-run (no prompt in JSON mode)"));
  }
  return absl::OkStatus();
}

// The usable master `slot`'s store would restore into.
absl::StatusOr<v1::SlotRef> RestoreTarget(Invocation& inv, const v1::SlotQuarantine& sq) {
  if (sq.store().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(ShownSlot(sq.slot()),
                     " holds no copy of a store now, so there is no master to restore into"));
  }
  v1::GetStoreRequest req;
  req.set_store(sq.store());
  absl::StatusOr<v1::StoreInfo> store = inv.Client().GetStore(req);
  if (!store.ok()) return Annotate(store.status(), absl::StrCat("store \"", sq.store(), "\""));
  for (const v1::Copy& c : store->copies()) {
    if (c.role() == v1::SLOT_MASTER && c.usable()) return c.slot();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("store ", sq.store(), " has no usable master to restore into; try later"));
}

absl::Status RunQuarantineRestore(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s = RejectFlags(args, {"store", "limit", "older-than", "include-stranded"},
                                   "quarantine restore");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckActionFlags(inv, args, "restore"); !s.ok()) return s;
  if (args.positional.size() != 2) {
    return UsageError(
        "\"quarantine restore\" takes one item: quarantine restore --slot HOST/SLOT ID-or-PATH");
  }
  absl::StatusOr<Scope> scope = ParseScope(args, "restore");
  if (!scope.ok()) return scope.status();
  absl::StatusOr<v1::SlotQuarantine> sq = ListOneSlot(inv, *scope);
  if (!sq.ok()) return sq.status();
  absl::StatusOr<v1::QuarantineItem> item = FindItem(*sq, args.positional[1]);
  if (!item.ok()) return item.status();
  absl::StatusOr<v1::SlotRef> into = RestoreTarget(inv, *sq);
  if (!into.ok()) return Annotate(into.status(), "quarantine restore");
  absl::StatusOr<std::map<std::string, int64_t>> offsets = ClockOffsets(inv);
  if (!offsets.ok()) return offsets.status();
  const bool dry_run = args.Has("dry-run");
  if (dry_run && inv.json) {
    inv.out() << JsonObject({{"dry_run", "true"},
                             {"store", JsonQuote(sq->store())},
                             {"from", ToJson(sq->slot(), true)},
                             {"into", ToJson(*into, true)},
                             {"item", ToJson(*item, true)}})
              << "\n";
    return absl::OkStatus();
  }
  if (!inv.json) {
    inv.out() << (dry_run ? "Would restore " : "Restore ") << item->user() << "'s " << item->path()
              << " (" << FormatBytes(item->size()) << ", " << item->reason() << " "
              << Age(*item, AgentNow(inv, *offsets, sq->slot())) << " ago) from the quarantine of "
              << ShownSlot(sq->slot()) << " into " << sq->store() << "'s master "
              << ShownSlot(*into) << ".\nIt is never written over an existing file.\n";
  }
  if (dry_run) {
    inv.out() << "Dry run: nothing changed.\n";
    return absl::OkStatus();
  }
  if (!args.Has("yes") && !Confirm(inv, "Restore this item now?")) return Aborted();
  v1::RestoreQuarantinedRequest req;
  *req.mutable_slot() = sq->slot();
  req.set_item_id(item->id());
  req.set_reason(args.Get("reason", "operator request (slotctl)"));
  absl::StatusOr<v1::RestoreQuarantinedResponse> resp = inv.Client().RestoreQuarantined(req);
  if (!resp.ok()) return Annotate(resp.status(), "quarantine restore");
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Asked " << ShownSlot(resp->into()) << " to restore it (command "
            << resp->command_id() << "); follow with 'slotctl events --store " << resp->store()
            << "'.\n";
  return absl::OkStatus();
}

// The items a purge takes: older than the cutoff (when given), never the
// stranded mail unless asked.
struct PurgeSelection {
  v1::SlotQuarantine chosen;  // slot, store, items, totals of the chosen
  uint64_t stranded_kept = 0;
};

PurgeSelection SelectForPurge(const v1::SlotQuarantine& sq, int64_t cutoff_agent_ms,
                              bool include_stranded) {
  PurgeSelection sel;
  *sel.chosen.mutable_slot() = sq.slot();
  sel.chosen.set_store(sq.store());
  for (const v1::QuarantineItem& item : sq.items()) {
    if (cutoff_agent_ms != 0 && item.quarantined_ms() > cutoff_agent_ms) continue;
    if (item.reason() == kStrandedReason && !include_stranded) {
      ++sel.stranded_kept;
      continue;
    }
    *sel.chosen.add_items() = item;
    sel.chosen.set_total_items(sel.chosen.total_items() + 1);
    sel.chosen.set_total_bytes(sel.chosen.total_bytes() + item.size());
  }
  return sel;
}

void PrintPurgePreview(Invocation& inv, const v1::SlotQuarantine& listed, const PurgeSelection& sel,
                       int64_t agent_now_ms) {
  const v1::SlotQuarantine& c = sel.chosen;
  inv.out() << "Purge " << c.total_items() << " of the " << listed.total_items()
            << " item(s) in the quarantine of " << ShownSlot(c.slot())
            << (c.store().empty() ? "" : absl::StrCat(" (store ", c.store(), ")")) << ", "
            << FormatBytes(c.total_bytes()) << ", for good:\n";
  Table table = ItemTable();
  for (int i = 0; i < c.items_size() && i < kPurgePreviewRows; ++i) {
    AddItemRow(table, c.slot(), c.items(i), agent_now_ms);
  }
  table.Print(inv.out(), 2);
  if (c.items_size() > kPurgePreviewRows) {
    inv.out() << "  ... and " << c.items_size() - kPurgePreviewRows << " more\n";
  }
  if (sel.stranded_kept > 0) {
    inv.out() << "Left alone: " << sel.stranded_kept
              << " stranded message(s) kept for 'slotctl store reconcile' (--include-stranded "
                 "purges them too).\n";
  }
  if (static_cast<uint64_t>(listed.items_size()) < listed.total_items()) {
    inv.out() << "Only " << listed.items_size() << " of " << listed.total_items()
              << " item(s) were listed; the others are not purged.\n";
  }
}

// Sends the chosen ids in batches; returns the command ids.
absl::StatusOr<std::vector<std::string>> SendPurge(Invocation& inv, const v1::SlotQuarantine& c,
                                                   const std::string& reason) {
  std::vector<std::string> commands;
  for (int start = 0; start < c.items_size(); start += kPurgeBatch) {
    v1::PurgeQuarantineItemsRequest req;
    *req.mutable_slot() = c.slot();
    req.set_reason(reason);
    for (int i = start; i < c.items_size() && i < start + kPurgeBatch; ++i) {
      req.add_item_ids(c.items(i).id());
    }
    absl::StatusOr<v1::PurgeQuarantineItemsResponse> resp = inv.Client().PurgeQuarantine(req);
    if (!resp.ok()) {
      absl::Status failed = Annotate(resp.status(), "quarantine purge");
      if (commands.empty()) return failed;
      return absl::Status(failed.code(), absl::StrCat(failed.message(), "; ", start,
                                                      " item(s) were already asked to go"));
    }
    commands.push_back(resp->command_id());
  }
  return commands;
}

absl::Status RunQuarantinePurge(Invocation& inv, const ParsedArgs& args) {
  if (absl::Status s = RejectFlags(args, {"store", "limit"}, "quarantine purge"); !s.ok()) return s;
  if (absl::Status s = CheckActionFlags(inv, args, "purge"); !s.ok()) return s;
  if (args.positional.size() > 1) {
    return UsageError(absl::StrCat("\"quarantine purge\" got an unexpected argument \"",
                                   args.positional[1],
                                   "\" (it takes --slot, --older-than, --user)"));
  }
  absl::StatusOr<Scope> scope = ParseScope(args, "purge");
  if (!scope.ok()) return scope.status();
  absl::Duration older_than = absl::ZeroDuration();
  if (args.Has("older-than")) {
    absl::StatusOr<absl::Duration> d = ParseDuration(args.Get("older-than"), "--older-than");
    if (!d.ok()) return UsageError(d.status().message());
    older_than = *d;
  }
  absl::StatusOr<v1::SlotQuarantine> sq = ListOneSlot(inv, *scope);
  if (!sq.ok()) return sq.status();
  absl::StatusOr<std::map<std::string, int64_t>> offsets = ClockOffsets(inv);
  if (!offsets.ok()) return offsets.status();
  const int64_t agent_now = AgentNow(inv, *offsets, sq->slot());
  const int64_t cutoff =
      args.Has("older-than") ? agent_now - absl::ToInt64Milliseconds(older_than) : 0;
  PurgeSelection sel = SelectForPurge(*sq, cutoff, args.Has("include-stranded"));
  const bool dry_run = args.Has("dry-run");
  if (inv.json && (dry_run || sel.chosen.items_size() == 0)) {
    inv.out() << ToJson(sel.chosen) << "\n";
    return absl::OkStatus();
  }
  if (sel.chosen.items_size() == 0) {
    inv.out() << "Nothing to purge in the quarantine of " << ShownSlot(sq->slot()) << " ("
              << sq->total_items() << " item(s) there"
              << (sel.stranded_kept > 0 ? ", stranded mail left alone" : "")
              << (cutoff != 0 ? absl::StrCat(", none older than ", args.Get("older-than")) : "")
              << ").\n";
    return absl::OkStatus();
  }
  if (!inv.json) PrintPurgePreview(inv, *sq, sel, agent_now);
  if (dry_run) {
    inv.out() << "Dry run: nothing changed.\n";
    return absl::OkStatus();
  }
  if (!args.Has("yes") &&
      !Confirm(inv, absl::StrCat("Delete these ", sel.chosen.items_size(),
                                 " item(s) for good? This cannot be undone."))) {
    return Aborted();
  }
  absl::StatusOr<std::vector<std::string>> commands =
      SendPurge(inv, sel.chosen, args.Get("reason", "operator request (slotctl)"));
  if (!commands.ok()) return commands.status();
  if (inv.json) {
    std::vector<std::string> quoted;
    for (const std::string& id : *commands) quoted.push_back(JsonQuote(id));
    inv.out() << JsonObject({{"slot", ToJson(sq->slot(), true)},
                             {"items", absl::StrCat(sel.chosen.items_size())},
                             {"bytes", JsonQuote(absl::StrCat(sel.chosen.total_bytes()))},
                             {"command_ids", absl::StrCat("[", absl::StrJoin(quoted, ","), "]")}})
              << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Asked " << ShownSlot(sq->slot()) << " to purge " << sel.chosen.items_size()
            << " item(s) (command " << absl::StrJoin(*commands, ", ") << ").\n";
  return absl::OkStatus();
}

absl::Status RunQuarantine(Invocation& inv, const ParsedArgs& args) {
  const std::string& sub = args.positional[0];
  if (sub == "list") return RunQuarantineList(inv, args);
  if (sub == "show") return RunQuarantineShow(inv, args);
  if (sub == "restore") return RunQuarantineRestore(inv, args);
  if (sub == "purge") return RunQuarantinePurge(inv, args);
  return UsageError(
      absl::StrCat("unknown quarantine action \"", sub, "\" (use list, show, restore or purge)"));
}

}  // namespace

std::vector<VerbDef> SafetyVerbs() {
  return {
      {"quarantine",
       {"quarantine list (--store STORE | --slot HOST/SLOT | --user USER) [--limit N]",
        "quarantine show ID-or-PATH... (--store STORE | --slot HOST/SLOT | --user USER)",
        "quarantine restore --slot HOST/SLOT ID-or-PATH [--user USER] [--dry-run] [--yes] "
        "[--reason TEXT]",
        "quarantine purge --slot HOST/SLOT [--older-than DURATION] [--user USER] "
        "[--include-stranded] [--dry-run] [--yes] [--reason TEXT]"},
       "files the copies set aside: list, show, restore into the master, purge",
       "A copy never deletes or overwrites mail outright: what the master removed or\n"
       "replaced, corrupt files a scrub found and mail stranded on an old master are moved\n"
       "into the slot's quarantine. --user with --store or --slot keeps that user's items;\n"
       "alone, it looks in the user's current store.\n"
       "'restore' puts one item back into its store's current master (never over an\n"
       "existing file). 'purge' removes a slot's items for good: those quarantined more\n"
       "than --older-than ago, of --user only if given; stranded mail is left alone unless\n"
       "--include-stranded. Both show what they will do and ask unless --yes; --dry-run\n"
       "only shows it. An item is named by its id, or by its path or message key when\n"
       "that is unique on the slot.",
       {{"store", true, "STORE", "every copy of this store"},
        {"slot", true, "HOST/SLOT", "this slot only"},
        {"user", true, "USER", "only this user's items"},
        {"limit", true, "N", "list: at most N items per slot"},
        {"older-than", true, "DURATION", "purge: only items quarantined longer ago"},
        {"include-stranded", false, "", "purge: stranded mail too"},
        {"dry-run", false, "", "show what would be done only"},
        {"yes", false, "", "do not ask for confirmation"},
        {"reason", true, "TEXT", "recorded in the journal"}},
       1,
       100,
       RunQuarantine},
  };
}

}  // namespace slotkeeper::slotctl
