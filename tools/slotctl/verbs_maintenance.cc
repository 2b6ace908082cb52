// Verbs for taking hosts and tasks in hand: drain with its plan, host
// forget, task cancel and task retry. Each change asks the coordinator for
// its plan or check first (a dry run), so what is shown is what it does.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// What a drain does with one copy, in words.
std::string DrainAction(const v1::DrainCopy& c, bool color) {
  if (c.role() != v1::SLOT_MASTER) return "stays (not re-created)";
  if (!c.to().host().empty()) return absl::StrCat("moves to ", ShownSlot(c.to()));
  return Paint(absl::StrCat("stays master: ", c.refused()), Tone::kWarn, color);
}

void PrintDrainPlan(Invocation& inv, const v1::DrainResponse& plan, const std::string& target) {
  std::ostream& out = inv.out();
  if (plan.copies_size() == 0) {
    out << "No copies on " << target << ": draining only keeps new copies off it.\n";
    return;
  }
  Table table({"STORE", "COPY", "ROLE", "WHAT HAPPENS", "USERS", "DATA"});
  uint64_t moving_bytes = 0, staying_bytes = 0;
  int staying = 0;
  for (const v1::DrainCopy& c : plan.copies()) {
    table.AddRow({c.store(), ShownSlot(c.slot()), model::Name(c.role()), DrainAction(c, inv.color),
                  absl::StrCat(c.users()), FormatBytes(c.bytes())});
    if (c.role() == v1::SLOT_MASTER && !c.to().host().empty()) {
      moving_bytes += c.bytes();
    } else {
      staying_bytes += c.bytes();
      ++staying;
    }
  }
  table.Print(out, 2);
  out << plan.masters_to_move() << " master(s) move to a replica (" << FormatBytes(moving_bytes)
      << "; nothing is copied: each replica already holds its store); " << staying
      << " copy(ies) stay on " << target << " (" << FormatBytes(staying_bytes) << "); "
      << plan.copies_to_recreate() << " copies re-created elsewhere.\n";
}

absl::Status RunHostForget(Invocation& inv, const ParsedArgs& args) {
  // Any name the coordinator has on record, spaces included: it decides
  // whether the host exists. Only what no name can hold is refused here.
  const std::string& host = args.positional[1];
  if (host.empty() || host.size() > 256 ||
      std::any_of(host.begin(), host.end(), [](char c) { return absl::ascii_iscntrl(c); })) {
    return UsageError("host forget: HOST must be 1-256 characters without control characters");
  }
  const bool dry_run = args.Has("dry-run"), yes = args.Has("yes");
  if (inv.json && !dry_run && !yes) {
    return UsageError("with --json, host forget needs --yes or --dry-run (no prompt in JSON mode)");
  }
  v1::ForgetHostRequest req;
  req.set_host(host);
  req.set_reason(args.Get("reason", "no reason given (slotctl)"));
  const std::string about = absl::StrCat("host forget ", Quoted(host));
  v1::ForgetHostRequest check = req;
  check.set_dry_run(true);
  // Checked before asking: an unknown or unforgettable host is refused here.
  absl::StatusOr<v1::ForgetHostResponse> plan = inv.Client().ForgetHost(check);
  if (!plan.ok()) return Annotate(plan.status(), about);
  if (inv.json && dry_run) {
    inv.out() << ToJson(*plan) << "\n";
    return absl::OkStatus();
  }
  if (!inv.json) {
    inv.out() << "Host " << Quoted(host) << " (" << model::Name(plan->state()) << ", "
              << plan->slots() << " slots) can be forgotten; " << plan->lost_copies_dropped_size()
              << " lost copy(ies) will be dropped";
    for (int i = 0; i < plan->lost_copies_dropped_size(); ++i) {
      inv.out() << (i == 0 ? ": " : ", ") << ShownSlot(plan->lost_copies_dropped(i));
    }
    inv.out() << ".\n";
  }
  if (dry_run) return absl::OkStatus();
  if (!yes && !Confirm(inv, absl::StrCat("Forget host ", Quoted(host),
                                         " for good? Its record is deleted; an agent that "
                                         "registers later under this name is a new host."))) {
    return Aborted();
  }
  absl::StatusOr<v1::ForgetHostResponse> done = inv.Client().ForgetHost(req);
  if (!done.ok()) return Annotate(done.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*done) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Host " << Quoted(host) << " forgotten: " << done->lost_copies_dropped_size()
            << " lost copy(ies) dropped, " << done->commands_discarded()
            << " queued command(s) discarded.\n";
  return absl::OkStatus();
}

absl::Status RunTask(Invocation& inv, const ParsedArgs& args) {
  if (args.positional.size() != 2) {
    return UsageError("\"task\" needs an action and a task id: task cancel|retry ID");
  }
  const std::string& action = args.positional[0];
  const std::string& id = args.positional[1];
  if (action != "cancel" && action != "retry") {
    return UsageError(absl::StrCat("\"task\" takes \"cancel\" or \"retry\", not ", Quoted(action)));
  }
  if (absl::Status s = ValidateName(id, "task id"); !s.ok()) return UsageError(s.message());
  const std::string reason = args.Get("reason");
  const std::string about = absl::StrCat("task ", action, " ", Quoted(id));
  absl::StatusOr<v1::TaskInfo> t;
  if (action == "cancel") {
    v1::CancelTaskRequest req;
    req.set_task(id);
    req.set_reason(reason);
    t = inv.Client().CancelTask(req);
  } else {
    v1::RetryTaskRequest req;
    req.set_task(id);
    req.set_reason(reason);
    t = inv.Client().RetryTask(req);
  }
  if (!t.ok()) return Annotate(t.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*t) << "\n";
    return absl::OkStatus();
  }
  std::ostream& out = inv.out();
  if (action == "cancel") {
    out << "Task " << id << ": " << (t->note().empty() ? model::Name(t->state()) : t->note())
        << ".\nIts target " << ShownSlot(t->target()) << " is released. Placement plans a "
        << "replacement for store " << t->store() << " on its next pass; 'slotctl automation "
        << "pause' stops that.\n";
  } else if (t->id() == id) {
    out << "Task " << id << " " << model::Name(t->state()) << ", attempt "
        << t->attempts() + (t->state() == v1::TASK_RUNNING ? 0 : 1) << " (backoff reset).\n";
  } else {
    out << "Task " << id << " stays failed; " << t->id() << " retries it ("
        << model::Name(t->state()) << "): " << t->store() << " from " << ShownSlot(t->source())
        << " into " << ShownSlot(t->target()) << ".\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDrainWithPlan(Invocation& inv, const ParsedArgs& args) {
  absl::StatusOr<v1::DrainRequest> req = ParseDrainTarget(args.positional[0], false, "HOST[/UNIT]");
  if (!req.ok()) return req.status();
  req->set_reason(args.Get("reason", "maintenance (slotctl drain)"));
  const std::string target =
      req->unit().empty() ? req->host() : absl::StrCat(req->host(), "/", req->unit());
  const std::string about = absl::StrCat("drain ", Quoted(target));
  const bool dry_run = args.Has("dry-run"), yes = args.Has("yes");
  if (inv.json && !dry_run && !yes) {
    return UsageError("with --json, drain needs --yes or --dry-run (no prompt in JSON mode)");
  }
  if (dry_run || !yes) {
    v1::DrainRequest plan_req = *req;
    plan_req.set_dry_run(true);
    absl::StatusOr<v1::DrainResponse> plan = inv.Client().Drain(plan_req);
    if (!plan.ok()) return Annotate(plan.status(), about);
    if (dry_run && inv.json) {
      inv.out() << ToJson(*plan) << "\n";
      return absl::OkStatus();
    }
    inv.out() << "Plan for draining " << target << (dry_run ? " (dry run, nothing changed)" : "")
              << ":\n";
    PrintDrainPlan(inv, *plan, target);
    if (dry_run) return absl::OkStatus();
    if (!Confirm(inv, absl::StrCat("Drain ", target, " now?"))) return Aborted();
  }
  absl::StatusOr<v1::DrainResponse> resp = inv.Client().Drain(*req);
  if (!resp.ok()) return Annotate(resp.status(), about);
  if (inv.json) {
    inv.out() << ToJson(*resp) << "\n";
    return absl::OkStatus();
  }
  inv.out() << "Draining " << target << ": no new placements; " << resp->masters_to_move()
            << " master(s) to move away (follow with 'slotctl events --follow').\n";
  return absl::OkStatus();
}

absl::Status RunHostVerb(Invocation& inv, const ParsedArgs& args) {
  if (args.positional[0] == "forget" && args.positional.size() == 2) {
    return RunHostForget(inv, args);
  }
  if (absl::Status s = RejectFlags(args, {"dry-run", "yes", "reason"}, "host"); !s.ok()) return s;
  if (args.positional.size() > 1) {
    return UsageError(
        absl::StrCat("\"host\" got an unexpected argument ", Quoted(args.positional[1])));
  }
  return RunHost(inv, args);
}

std::vector<VerbDef> MaintenanceVerbs() {
  return {
      {"task",
       {"task cancel ID [--reason TEXT]", "task retry ID [--reason TEXT]"},
       "cancel a replication task, or have it try again now",
       "'task cancel' stops a queued, waiting or running task: its agent is told to stop,\n"
       "the task ends CANCELLED with who cancelled it in its note, and the slot it was\n"
       "seeding is released (its agent sets what was copied aside in quarantine). The store\n"
       "is then short of a copy again, so placement plans a new task for it on its next\n"
       "pass, as after any cancelled task; pause automation first ('slotctl automation\n"
       "pause') to keep it from doing so.\n"
       "'task retry' starts a task waiting to retry (BACKOFF) now, its backoff reset (it\n"
       "counts as one of its attempts). A FAILED re-replication is retried as a new task\n"
       "into the same target slot, when that is still a usable spare and the store still\n"
       "short of copies; the failed task stays as it ended. Other states are refused, with\n"
       "the reason. Needs the operator role.",
       {{"reason", true, "TEXT", "recorded in the task's note and the journal"}},
       2,
       2,
       RunTask},
  };
}

}  // namespace slotkeeper::slotctl
