// The verbs that change the cluster: store create, failover, undrain,
// mark-lost, automation pause/resume (drain: verbs_maintenance.cc). Destructive ones ask for
// confirmation on stdin unless --yes.
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {

bool Confirm(Invocation& inv, absl::string_view question) {
  inv.err() << question << " [y/N] ";
  inv.err().flush();
  std::string answer;
  if (inv.env->in == nullptr || !std::getline(*inv.env->in, answer)) {
    inv.err() << "\n";
    return false;
  }
  answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
  return answer == "y" || answer == "yes";
}

absl::Status Aborted() { return absl::AbortedError("not confirmed; nothing was changed"); }

absl::Status RejectFlags(const ParsedArgs& args, const std::vector<std::string>& flags,
                         absl::string_view sub) {
  for (const std::string& flag : flags) {
    if (args.Has(flag)) {
      return UsageError(absl::StrCat("\"", sub, "\" does not take --", flag));
    }
  }
  return absl::OkStatus();
}

absl::Status RunStoreCreate(Invocation& inv, const ParsedArgs& args) {
  if (args.positional.size() != 2) {
    return UsageError("\"store create\" needs a store name: store create STORE --master HOST/SLOT");
  }
  const std::string& name = args.positional[1];
  if (absl::Status s = ValidateName(name, "store"); !s.ok()) return UsageError(s.message());
  if (!args.Has("master")) return UsageError("\"store create\" needs --master HOST/SLOT");
  absl::StatusOr<v1::SlotRef> master = ParseSlotRef(args.Get("master"), "--master");
  if (!master.ok()) return UsageError(master.status().message());
  if (args.Has("replicas") == args.Has("copies")) {
    return UsageError("\"store create\" needs either --replicas HOST/SLOT,... or --copies N");
  }
  v1::CreateStoreRequest req;
  req.set_store(name);
  *req.mutable_master() = *master;
  if (args.Has("copies")) {
    absl::StatusOr<int> copies = ParseIntInRange(args.Get("copies"), 2, 9, "--copies");
    if (!copies.ok()) return UsageError(copies.status().message());
    req.set_copies(*copies);
  } else {
    absl::StatusOr<std::vector<v1::SlotRef>> replicas =
        ParseSlotRefList(args.Get("replicas"), "--replicas");
    if (!replicas.ok()) return UsageError(replicas.status().message());
    std::set<std::string> hosts = {master->host()};
    for (const v1::SlotRef& r : *replicas) {
      if (!hosts.insert(r.host()).second) {
        return UsageError(
            absl::StrCat("--replicas: ", ShownSlot(r), " is on host ", r.host(),
                         ", which already holds a copy (copies need distinct hosts)"));
      }
      *req.add_replicas() = r;
    }
  }
  absl::StatusOr<v1::StoreInfo> store = inv.Client().CreateStore(req);
  if (!store.ok()) return Annotate(store.status(), absl::StrCat("store create \"", name, "\""));
  if (inv.json) {
    inv.out() << ToJson(*store) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Created store " << store->name() << " with master " << ShownSlot(req.master())
            << "; " << store->required_copies() << " copies required.\n";
  for (const v1::Copy& c : store->copies()) {
    if (c.role() == v1::SLOT_MASTER) continue;
    inv.out() << "  " << model::Name(c.role()) << " " << ShownSlot(c.slot()) << "\n";
  }
  inv.out() << "Replicas are seeded by tasks: see 'slotctl tasks --store " << store->name()
            << "'.\n";
  return absl::OkStatus();
}

namespace {

// Prints a failover plan or result; returns how many items were refused.
int PrintFailover(Invocation& inv, const v1::FailoverResponse& resp, bool dry_run) {
  int refused = 0;
  Table table({"STORE", "FROM", "TO", "RESULT"});
  for (const v1::FailoverPlanItem& item : resp.items()) {
    std::string result;
    if (!item.refused().empty()) {
      ++refused;
      result = Paint(absl::StrCat("refused: ", item.refused()), Tone::kBad, inv.color);
    } else if (item.done()) {
      result = Paint("done", Tone::kGood, inv.color);
    } else {
      result = dry_run ? "would fail over" : "not applied";
    }
    table.AddRow({item.store(), ShownSlot(item.from()), ShownSlot(item.to()), result});
  }
  if (resp.items_size() == 0) {
    inv.out() << "Nothing to fail over.\n";
  } else {
    table.Print(inv.out());
  }
  return refused;
}

absl::Status RunFailover(Invocation& inv, const ParsedArgs& args) {
  v1::FailoverRequest req;
  std::string about;
  if (args.positional.empty() == !args.Has("host")) {
    return UsageError("give either a STORE or --host HOST (not both)");
  }
  if (args.Has("host")) {
    if (absl::Status s = ValidateName(args.Get("host"), "--host"); !s.ok()) {
      return UsageError(s.message());
    }
    if (args.Has("to")) return UsageError("--to goes with a STORE, not with --host");
    req.set_host(args.Get("host"));
    about = absl::StrCat("failover of host \"", req.host(), "\"");
  } else {
    if (absl::Status s = ValidateName(args.positional[0], "store"); !s.ok()) {
      return UsageError(s.message());
    }
    req.set_store(args.positional[0]);
    about = absl::StrCat("failover of store \"", req.store(), "\"");
  }
  if (args.Has("to")) {
    absl::StatusOr<v1::SlotRef> to = ParseSlotRef(args.Get("to"), "--to");
    if (!to.ok()) return UsageError(to.status().message());
    *req.mutable_to() = *to;
  }
  req.set_force(args.Has("force"));
  req.set_reason(args.Get("reason", "operator request (slotctl)"));
  const bool dry_run = args.Has("dry-run");
  const bool yes = args.Has("yes");
  if (inv.json && !dry_run && !yes) {
    return UsageError("with --json, failover needs --yes or --dry-run (no prompt in JSON mode)");
  }

  if (dry_run || !yes) {
    v1::FailoverRequest plan_req = req;
    plan_req.set_dry_run(true);
    absl::StatusOr<v1::FailoverResponse> plan = inv.Client().Failover(plan_req);
    if (!plan.ok()) return Annotate(plan.status(), about);
    int refused = 0;
    for (const auto& item : plan->items()) refused += item.refused().empty() ? 0 : 1;
    if (dry_run) {
      if (inv.json) {
        inv.out() << ToJson(*plan) << "\n";
      } else {
        inv.out() << "Plan (dry run, nothing changed):\n";
        PrintFailover(inv, *plan, true);
      }
      if (refused > 0) inv.exit_code = 1;
      return absl::OkStatus();
    }
    inv.out() << "Plan:\n";
    PrintFailover(inv, *plan, true);
    const int doable = plan->items_size() - refused;
    if (doable == 0) {
      if (plan->items_size() == 0) return absl::OkStatus();
      return absl::FailedPreconditionError(
          absl::StrCat(about, ": every store was refused",
                       req.force() ? "" : " (see reasons; --force overrides)"));
    }
    if (!Confirm(inv, absl::StrCat("Fail over ", doable, " store(s) now?"))) return Aborted();
  }

  absl::StatusOr<v1::FailoverResponse> resp = inv.Client().Failover(req);
  if (!resp.ok()) return Annotate(resp.status(), about);
  int refused = 0;
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    for (const auto& item : resp->items()) refused += item.refused().empty() ? 0 : 1;
  } else {
    refused = PrintFailover(inv, *resp, false);
    if (refused > 0 && !req.force()) {
      inv.out() << refused << " store(s) refused; --force overrides 'behind' and "
                << "'unhealthy target' refusals.\n";
    }
  }
  if (refused > 0) inv.exit_code = 1;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::DrainRequest> ParseDrainTarget(const std::string& text, bool unit_required,
                                                  const std::string& what) {
  v1::DrainRequest req;
  if (text.find('/') != std::string::npos || unit_required) {
    absl::StatusOr<v1::SlotRef> ref = ParseSlotRef(text, what);
    if (!ref.ok()) return UsageError(ref.status().message());
    req.set_host(ref->host());
    req.set_unit(ref->slot());
  } else {
    if (absl::Status s = ValidateName(text, what); !s.ok()) return UsageError(s.message());
    req.set_host(text);
  }
  return req;
}

namespace {

// Drain (with its plan) is verbs_maintenance.cc.
absl::Status RunUndrain(Invocation& inv, const ParsedArgs& args) {
  absl::StatusOr<v1::DrainRequest> req = ParseDrainTarget(args.positional[0], false, "HOST[/UNIT]");
  if (!req.ok()) return req.status();
  req->set_reason(args.Get("reason"));
  const std::string target =
      req->unit().empty() ? req->host() : absl::StrCat(req->host(), "/", req->unit());
  absl::StatusOr<v1::DrainResponse> resp = inv.Client().Undrain(*req);
  if (!resp.ok()) return Annotate(resp.status(), absl::StrCat("undrain \"", target, "\""));
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
  } else {
    inv.out() << "Undrained " << target << ": placements allowed again.\n";
  }
  return absl::OkStatus();
}

// What the coordinator would refuse, asked before the operator is: the host
// and its unit exist, the unit is not lost already, and (without --force)
// one more unit stays within the hourly limit. Read-only; the coordinator
// checks again when it acts.
absl::Status CheckMarkLost(Invocation& inv, const v1::MarkLostRequest& req) {
  v1::GetHostRequest get;
  get.set_host(req.host());
  absl::StatusOr<v1::HostInfo> host = inv.Client().GetHost(get);
  if (!host.ok()) return host.status();
  const v1::UnitInfo* unit = nullptr;
  for (const v1::UnitInfo& u : host->units()) {
    if (u.name() == req.unit()) unit = &u;
  }
  if (unit == nullptr) {
    std::vector<std::string> names;
    for (const v1::UnitInfo& u : host->units()) names.push_back(u.name());
    return absl::NotFoundError(absl::StrCat("host ", req.host(), " has no drive unit ", req.unit(),
                                            "; it has ", absl::StrJoin(names, ", ")));
  }
  if (unit->state() == v1::UNIT_LOST) {
    return absl::FailedPreconditionError(absl::StrCat("drive unit ", req.host(), "/", req.unit(),
                                                      " is already lost; nothing to do"));
  }
  if (req.force()) return absl::OkStatus();
  absl::StatusOr<v1::AutomationState> automation = inv.Client().GetAutomation({});
  if (!automation.ok()) return automation.status();
  // A limit of 0 is not reported (an older coordinator): it decides alone.
  if (automation->units_lost_limit() > 0 &&
      automation->units_lost_last_hour() + 1 > automation->units_lost_limit()) {
    return absl::FailedPreconditionError(
        absl::StrCat(automation->units_lost_last_hour(),
                     " drive unit(s) declared lost in the last hour; one "
                     "more would pass the limit of ",
                     automation->units_lost_limit(),
                     " (slotmgrd --max_units_lost_per_hour); --force exceeds it"));
  }
  return absl::OkStatus();
}

absl::Status RunMarkLost(Invocation& inv, const ParsedArgs& args) {
  absl::StatusOr<v1::SlotRef> ref = ParseSlotRef(args.positional[0], "HOST/UNIT");
  if (!ref.ok()) return UsageError(ref.status().message());
  v1::MarkLostRequest req;
  req.set_host(ref->host());
  req.set_unit(ref->slot());
  req.set_reason(args.Get("reason", "no reason given (slotctl)"));
  req.set_force(args.Has("force"));
  const std::string target = ShownSlot(*ref);
  if (!args.Has("yes") && inv.json) {
    return UsageError("with --json, mark-lost needs --yes (no prompt in JSON mode)");
  }
  if (absl::Status s = CheckMarkLost(inv, req); !s.ok()) {
    return Annotate(s, absl::StrCat("mark-lost \"", target, "\""));
  }
  if (!args.Has("yes")) {
    if (!Confirm(inv, absl::StrCat("Declare drive unit ", target,
                                   " permanently lost? Its slots will be replaced elsewhere and "
                                   "dropped; this cannot be undone."))) {
      return Aborted();
    }
  }
  absl::StatusOr<v1::MarkLostResponse> resp = inv.Client().MarkLost(req);
  if (!resp.ok()) return Annotate(resp.status(), absl::StrCat("mark-lost \"", target, "\""));
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Drive unit " << target << " declared lost. " << resp->affected_stores_size()
            << " store(s) affected"
            << (resp->affected_stores_size()
                    ? absl::StrCat(": ", absl::StrJoin(resp->affected_stores(), ", "))
                    : "")
            << "\n"
            << resp->tasks_created_size() << " re-replication task(s) created"
            << (resp->tasks_created_size()
                    ? absl::StrCat(": ", absl::StrJoin(resp->tasks_created(), ", "))
                    : "")
            << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAutomationSet(Invocation& inv, const ParsedArgs& args, bool pause) {
  v1::SetAutomationRequest req;
  req.set_paused(pause);
  if (pause && !args.Has("reason")) {
    return UsageError("\"automation pause\" needs --reason TEXT (it is shown to everyone)");
  }
  req.set_reason(args.Get("reason"));
  req.set_set_by(inv.env->user.empty() ? "slotctl" : inv.env->user);
  absl::StatusOr<v1::AutomationState> state = inv.Client().SetAutomation(req);
  if (!state.ok())
    return Annotate(state.status(), pause ? "automation pause" : "automation resume");
  if (inv.json) {
    inv.out() << ToJson(*state) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Automation is now " << model::Name(state->mode())
            << (state->reason().empty() ? "" : absl::StrCat(": ", state->reason())) << "\n";
  return absl::OkStatus();
}

std::vector<VerbDef> WriteVerbs() {
  return {
      {"failover",
       {"failover STORE [--to HOST/SLOT] [--force] [--dry-run] [--yes] [--reason TEXT]",
        "failover --host HOST [--force] [--dry-run] [--yes] [--reason TEXT]"},
       "move a store's master (or every master off a host) to a replica",
       "Shows the plan and asks for confirmation unless --yes. The coordinator refuses a\n"
       "store whose target replica is behind or whose host is unhealthy; the reason is\n"
       "printed and --force overrides it. --dry-run shows the plan and changes nothing.\n"
       "Exits 1 when any store was refused.",
       {{"to", true, "HOST/SLOT", "the replica to promote (default: the best one)"},
        {"host", true, "HOST", "fail over every master on this host"},
        {"force", false, "", "override 'behind' and 'unhealthy target' refusals"},
        {"dry-run", false, "", "show the plan only"},
        {"yes", false, "", "do not ask for confirmation"},
        {"reason", true, "TEXT", "recorded in the journal"}},
       0,
       1,
       RunFailover},
      {"drain",
       {"drain HOST[/UNIT] [--dry-run] [--yes] [--reason TEXT]"},
       "move masters away from a host or unit and stop placing on it",
       "For maintenance or decommissioning. Shows the coordinator's plan first: each\n"
       "master and the replica that takes its place (or why none can yet), each other copy\n"
       "(it stays: a drain re-creates no copies), users and data; then asks unless --yes.\n"
       "--dry-run shows the plan and changes nothing. Undo with 'slotctl undrain'.",
       {{"dry-run", false, "", "show the plan only"},
        {"yes", false, "", "do not ask for confirmation"},
        {"reason", true, "TEXT", "recorded and shown with the host"}},
       1,
       1,
       RunDrainWithPlan},
      {"undrain",
       {"undrain HOST[/UNIT]"},
       "allow placements on a drained host or unit again",
       "",
       {{"reason", true, "TEXT", "recorded in the journal"}},
       1,
       1,
       RunUndrain},
      {"mark-lost",
       {"mark-lost HOST/UNIT [--yes] [--force] [--reason TEXT]"},
       "declare a drive unit permanently gone and start re-replication now",
       "Instead of waiting for replace_after, the unit's slots become lost at once and\n"
       "new replicas are placed on spare slots of other hosts (even while automation is\n"
       "paused or the evidence brake is engaged). Past the hourly limit on units declared\n"
       "lost (slotmgrd --max_units_lost_per_hour) it is refused unless --force. Asks for\n"
       "confirmation unless --yes.",
       {{"yes", false, "", "do not ask for confirmation"},
        {"force", false, "", "exceed the hourly limit on units declared lost"},
        {"reason", true, "TEXT", "recorded in the journal"}},
       1,
       1,
       RunMarkLost},
  };
}

}  // namespace slotkeeper::slotctl
