// The verbs about what automation may do: `automation status|pause|resume|
// ack` (the whole cluster or one host, the evidence brake, the blast-radius
// limits) and `unit reinstate` (a held or lost drive unit back in service).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

std::string Who(const Invocation& inv) { return inv.env->user.empty() ? "slotctl" : inv.env->user; }

void PrintAutomation(Invocation& inv, const v1::AutomationState& a) {
  const int64_t now = inv.NowMs();
  std::ostream& out = inv.out();
  out << "Automation: " << AutomationLine(a, now, inv.color) << "\n";
  if (a.brake_engaged()) {
    out << "  evidence brake engaged " << FormatAgo(a.brake_since_ms(), now) << ": "
        << a.brake_reason() << "\n"
        << "  no drive unit is declared lost and no replacement placed until "
           "'slotctl automation ack --reason TEXT'\n";
  }
  if (a.units_lost_limit() > 0 || a.rereplication_limit() > 0 || a.units_lost_last_hour() > 0 ||
      a.rereplications_last_hour() > 0) {
    out << "  in the last hour: " << a.units_lost_last_hour() << "/" << a.units_lost_limit()
        << " drive units declared lost, " << a.rereplications_last_hour() << "/"
        << a.rereplication_limit() << " stores re-replicated (limits per hour)\n";
  }
  for (const v1::PausedHost& p : a.paused_hosts()) {
    out << "  paused on " << p.host() << " by "
        << (p.pause().set_by().empty() ? "?" : p.pause().set_by()) << " "
        << FormatAgo(p.pause().since_ms(), now) << ": " << p.pause().reason() << "\n";
  }
  if (!a.held_back().empty()) {
    out << "  last held back " << FormatAgo(a.held_back_ms(), now) << ": " << a.held_back() << "\n";
  }
}

absl::Status PrintState(Invocation& inv, const absl::StatusOr<v1::AutomationState>& a,
                        const std::string& about, const std::string& done) {
  if (!a.ok()) return Annotate(a.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*a) << "\n";
    return absl::OkStatus();
  }
  if (!done.empty()) inv.out() << done << "\n";
  PrintAutomation(inv, *a);
  return absl::OkStatus();
}

// `automation pause|resume --host HOST`.
absl::Status RunHostPause(Invocation& inv, const ParsedArgs& args, bool pause) {
  const std::string host = args.Get("host");
  if (absl::Status s = ValidateName(host, "--host"); !s.ok()) return UsageError(s.message());
  if (pause && !args.Has("reason")) {
    return UsageError("\"automation pause --host\" needs --reason TEXT (it is shown to everyone)");
  }
  v1::SetAutomationRequest req;
  req.set_host(host);
  req.set_paused(pause);
  req.set_reason(args.Get("reason"));
  req.set_set_by(Who(inv));
  return PrintState(inv, inv.Client().SetAutomation(req),
                    absl::StrCat("automation ", pause ? "pause" : "resume", " on \"", host, "\""),
                    absl::StrCat("Automation ", pause ? "paused" : "resumed", " on ", host, "."));
}

absl::Status RunAck(Invocation& inv, const ParsedArgs& args) {
  if (args.Has("host")) return UsageError("--host does not go with \"automation ack\"");
  if (!args.Has("reason")) {
    return UsageError("\"automation ack\" needs --reason TEXT (what was found; it is journaled)");
  }
  v1::AckAutomationRequest req;
  req.set_reason(args.Get("reason"));
  req.set_set_by(Who(inv));
  return PrintState(inv, inv.Client().AckAutomation(req), "automation ack",
                    "Evidence brake released.");
}

absl::Status RunAutomation(Invocation& inv, const ParsedArgs& args) {
  const std::string& sub = args.positional[0];
  if (sub == "ack") return RunAck(inv, args);
  if (sub == "pause" || sub == "resume") {
    if (args.Has("host")) return RunHostPause(inv, args, sub == "pause");
    return RunAutomationSet(inv, args, sub == "pause");
  }
  if (sub != "status") {
    return UsageError(
        absl::StrCat("unknown automation action \"", sub, "\" (use status, pause, resume or ack)"));
  }
  if (args.Has("reason") || args.Has("host")) {
    return UsageError("--reason and --host do not go with \"automation status\"");
  }
  return PrintState(inv, inv.Client().GetAutomation({}), "automation status", "");
}

std::string Users(const v1::ReinstatedCopy& c) {
  return absl::StrCat(c.users_same(), " same, ", c.users_differ(), " behind, ", c.users_missing(),
                      " missing, ", c.users_extra(), " extra");
}

// The copies and what reinstating does with them; returns how many did not
// verify.
int PrintReinstatePlan(Invocation& inv, const v1::ReinstateUnitResponse& r) {
  int bad = 0;
  Table table({"COPY", "STORE", "ROLE", "USERS", "RESULT"});
  for (const v1::ReinstatedCopy& c : r.copies()) {
    std::string result;
    if (!c.verified()) {
      ++bad;
      result = Paint(absl::StrCat("does not verify: ", c.problem()), Tone::kBad, inv.color);
    } else {
      result = absl::StrCat(c.action(), c.task_id().empty() ? "" : " (task " + c.task_id() + ")");
    }
    table.AddRow({ShownSlot(c.slot()), c.store(), model::Name(c.role()), Users(c), result});
  }
  if (r.copies_size() == 0) {
    inv.out() << "No copy on the unit: it returns to service as spare capacity.\n";
  } else {
    table.Print(inv.out());
  }
  if (r.tasks_cancelled_size() > 0) {
    inv.out() << "Replacement task(s) cancelled: " << absl::StrJoin(r.tasks_cancelled(), ", ")
              << "\n";
  }
  if (r.tasks_kept_size() > 0) {
    inv.out() << "Replacement task(s) kept (their store still needs them): "
              << absl::StrJoin(r.tasks_kept(), ", ") << "\n";
  }
  return bad;
}

absl::Status RunReinstate(Invocation& inv, const ParsedArgs& args) {
  if (args.positional.size() != 2) return UsageError("\"unit reinstate\" needs HOST/UNIT");
  absl::StatusOr<v1::SlotRef> ref = ParseSlotRef(args.positional[1], "HOST/UNIT");
  if (!ref.ok()) return UsageError(ref.status().message());
  const bool dry_run = args.Has("dry-run"), yes = args.Has("yes");
  if (inv.json && !dry_run && !yes) {
    return UsageError(
        "with --json, unit reinstate needs --yes or --dry-run (no prompt in JSON mode)");
  }
  v1::ReinstateUnitRequest req;
  req.set_host(ref->host());
  req.set_unit(ref->slot());
  req.set_reason(args.Get("reason", "reinstated by an operator (slotctl)"));
  req.set_set_by(Who(inv));
  const std::string target = ShownSlot(*ref);
  const std::string about = absl::StrCat("unit reinstate \"", target, "\"");
  if (dry_run || !yes) {
    v1::ReinstateUnitRequest plan_req = req;
    plan_req.set_dry_run(true);
    absl::StatusOr<v1::ReinstateUnitResponse> plan = inv.Client().ReinstateUnit(plan_req);
    if (!plan.ok()) return Annotate(plan.status(), about);
    if (dry_run && inv.json) {
      inv.out() << ToJson(*plan) << "\n";
      for (const auto& c : plan->copies()) inv.exit_code |= c.verified() ? 0 : 1;
      return absl::OkStatus();
    }
    inv.out() << "Plan for " << target << (dry_run ? " (dry run, nothing changed)" : "") << ":\n";
    const int bad = PrintReinstatePlan(inv, *plan);
    if (bad > 0) {
      if (dry_run) {
        inv.exit_code = 1;
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(absl::StrCat(
          about, ": ", bad, " copy(ies) did not verify; nothing was changed (mark-lost instead?)"));
    }
    if (dry_run) return absl::OkStatus();
    if (!Confirm(inv, absl::StrCat("Reinstate ", target, " now?"))) return Aborted();
  }
  absl::StatusOr<v1::ReinstateUnitResponse> done = inv.Client().ReinstateUnit(req);
  if (!done.ok()) return Annotate(done.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*done) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Reinstated " << target << ":\n";
  PrintReinstatePlan(inv, *done);
  inv.out() << "Follow the catch-up with 'slotctl tasks'.\n";
  return absl::OkStatus();
}

absl::Status RunUnit(Invocation& inv, const ParsedArgs& args) {
  if (args.positional[0] != "reinstate") {
    return UsageError(
        absl::StrCat("unknown unit action \"", args.positional[0], "\" (use reinstate)"));
  }
  return RunReinstate(inv, args);
}

}  // namespace

std::vector<VerbDef> AutomationVerbs() {
  return {
      {"automation",
       {"automation status", "automation pause --reason TEXT [--host HOST]",
        "automation resume [--host HOST]", "automation ack --reason TEXT"},
       "show, pause or resume automation (everywhere or on one host); release the evidence brake",
       "While paused the coordinator still detects and reports, but takes no automatic\n"
       "action (operators' commands still work). With --host only that host: no automatic\n"
       "failover of its masters, no unit of it declared lost, no new replica placed on it.\n"
       "FROZEN means the mass-failure brake stopped automation; 'automation resume' lifts it.\n"
       "The evidence brake (hard conditions on too many hosts or units at once) keeps\n"
       "failing over single masters but declares nothing lost and places no replacement\n"
       "until 'automation ack --reason TEXT'. status also shows the hourly limits on units\n"
       "declared lost and stores re-replicated, and what they held back last.",
       {{"reason", true, "TEXT", "why (required for pause and ack; journaled)"},
        {"host", true, "HOST", "pause or resume only this host"}},
       1,
       1,
       RunAutomation},
      {"unit",
       {"unit reinstate HOST/UNIT [--dry-run] [--yes] [--reason TEXT]"},
       "return a held or lost drive unit to service once its copies verify",
       "Each copy on the unit is compared with its store's master (users and content\n"
       "digests, read over the peer channel). If every copy holds its store's data, the\n"
       "unit is back online and each copy catches up from the master by delta before it\n"
       "serves again as a replica; tasks placed to replace those copies are cancelled\n"
       "when their store keeps enough copies without them. Refused, with nothing\n"
       "changed, while the unit still reports a hard condition or a copy does not verify.\n"
       "Shows the plan and asks unless --yes; --dry-run only shows it (exit 1 when a copy\n"
       "does not verify).",
       {{"dry-run", false, "", "verify and show the plan only"},
        {"yes", false, "", "do not ask for confirmation"},
        {"reason", true, "TEXT", "recorded in the journal"}},
       2,
       2,
       RunUnit},
  };
}

}  // namespace slotkeeper::slotctl
