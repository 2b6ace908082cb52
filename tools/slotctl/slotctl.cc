#include "tools/slotctl/slotctl.h"

#include <iostream>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/grpc_util.h"
#include "tools/slotctl/completion.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

constexpr char kUsagePayload[] = "slotkeeper.slotctl/usage";

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"server", true, "HOST:PORT",
       "the coordinator (default: $SLOTMGR_ADDR, else 127.0.0.1:7300)"},
      {"json", false, "", "machine-readable output (errors too)"},
      {"timeout", true, "DURATION", "deadline of each call (default 10s)"},
      {"color", true, "always|never|auto",
       "colour state words (default auto: only when stdout is a terminal and NO_COLOR is "
       "unset; never with --json)"},
      {"tls_ca", true, "FILE", "mutual TLS: the cluster's CA (default: $SLOTKEEPER_TLS_CA)"},
      {"tls_cert", true, "FILE",
       "mutual TLS: your certificate, whose name has a role (default: $SLOTKEEPER_TLS_CERT)"},
      {"tls_key", true, "FILE", "mutual TLS: its key (default: $SLOTKEEPER_TLS_KEY)"},
      {"tls_server_name", true, "NAME",
       "the name the coordinator's certificate must carry (default: "
       "$SLOTKEEPER_TLS_SERVER_NAME, else slotmgr)"},
      {"insecure_loopback_only", false, "",
       "no TLS: plaintext to a coordinator on loopback only (default: "
       "$SLOTKEEPER_INSECURE_LOOPBACK_ONLY=1)"},
      {"help", false, "", "show help"},
  };
  return *flags;
}

const std::vector<VerbDef>& AllVerbs();

absl::Status RunCompletion(Invocation& inv, const ParsedArgs& args) {
  if (args.positional[0] != "bash") {
    return UsageError(
        absl::StrCat("no completion for shell \"", args.positional[0], "\" (only bash)"));
  }
  inv.out() << BashCompletion(AllVerbs(), GlobalFlags());
  return absl::OkStatus();
}

// Verbs about slotctl itself rather than the cluster.
std::vector<VerbDef> ToolVerbs() {
  return {
      {"completion",
       {"completion bash"},
       "print the bash completion script",
       "Completes verbs, sub-verbs, flags and the values of choice and file flags.\n"
       "Packages install it as /usr/share/bash-completion/completions/slotctl; to try it:\n"
       "  source <(slotctl completion bash)",
       {},
       1,
       1,
       RunCompletion},
  };
}

// True for the verbs of ToolVerbs(), which need neither a server nor a
// transport choice.
bool IsToolVerb(const VerbDef& verb) {
  for (const VerbDef& v : ToolVerbs()) {
    if (v.name == verb.name) return true;
  }
  return false;
}

const std::vector<VerbDef>& AllVerbs() {
  static const auto* verbs = [] {
    auto* all = new std::vector<VerbDef>(ReadVerbs());
    for (VerbDef& v : WriteVerbs()) all->push_back(std::move(v));
    for (VerbDef& v : SafetyVerbs()) all->push_back(std::move(v));
    for (VerbDef& v : AutomationVerbs()) all->push_back(std::move(v));
    for (VerbDef& v : ToolVerbs()) all->push_back(std::move(v));
    for (VerbDef& v : MaintenanceVerbs()) all->push_back(std::move(v));
    return all;
  }();
  return *verbs;
}

const VerbDef* FindVerb(absl::string_view name) {
  for (const VerbDef& v : AllVerbs()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  Table table({"", ""});
  for (const FlagSpec& f : flags) {
    std::string name = absl::StrCat("--", f.name);
    if (f.takes_value) absl::StrAppend(&name, " ", f.value_name);
    table.AddRow({name, f.help});
  }
  table.Print(out, 2, /*with_header=*/false);
}

void PrintOverview(std::ostream& out) {
  out << "slotctl: the operator's command line for Slotkeeper (talks to slotmgrd).\n\n"
      << "Usage: slotctl [--server HOST:PORT] [--json] [--timeout DURATION] [--color WHEN] VERB "
         "[ARGS]\n\n"
      << "Verbs:\n";
  Table table({"", ""});
  for (const VerbDef& v : AllVerbs()) table.AddRow({v.name, v.summary});
  table.Print(out, 2, /*with_header=*/false);
  out << "\nGlobal flags (before or after the verb):\n";
  PrintFlags(out, GlobalFlags());
  out << "\nDURATION: a number and a unit, or several: 90s, 30m, 1.5h, 1d12h (units ns us ms s m "
         "h d).\n"
      << "\nRun 'slotctl help VERB' for a verb's arguments and flags.\n"
      << "\nExit codes:\n"
      << "  " << kExitOk << "  ok (status: every store has a usable master and all its copies)\n"
      << "  " << kExitFailed
      << "  the operation failed, was refused or not confirmed, the server was unreachable, or "
         "ksck found problems\n"
      << "  " << kExitUsage << "  usage error\n"
      << "  " << kExitDegraded
      << "  status: mail safe, redundancy reduced (a store has fewer copies than required)\n"
      << "  " << kExitMailAtRisk
      << "  status: MAIL AT RISK (a store has no usable master, or is served only on doubted "
         "evidence)\n";
}

void PrintVerbHelp(std::ostream& out, const VerbDef& verb) {
  for (size_t i = 0; i < verb.usage.size(); ++i) {
    out << (i == 0 ? "Usage: " : "       ") << "slotctl " << verb.usage[i] << "\n";
  }
  out << "\n" << verb.summary << "\n";
  if (!verb.details.empty()) out << "\n" << verb.details << "\n";
  if (!verb.flags.empty()) {
    out << "\nFlags:\n";
    PrintFlags(out, verb.flags);
  }
  out << "\nGlobal flags: --server HOST:PORT, --json, --timeout DURATION, --color WHEN (see "
         "'slotctl help').\n";
}

// Prints `status` as the one error line (or JSON object) and returns the
// exit code.
int ReportError(const Environment& env, bool json, const absl::Status& status,
                absl::string_view verb) {
  const bool usage = IsUsageError(status);
  if (json) {
    *env.out << ErrorJson(usage ? absl::InvalidArgumentError(status.message()) : status) << "\n";
  } else {
    *env.err << "slotctl: " << status.message() << "\n";
    if (usage) {
      *env.err << "Run 'slotctl help" << (verb.empty() ? "" : " ") << verb << "' for usage.\n";
    }
  }
  return usage ? kExitUsage : kExitFailed;
}

// The transport the flags choose over the environment's defaults: a flag
// given wins over every default of the other choice.
TransportChoice ChooseTransport(const ParsedArgs& parsed, const Environment& env) {
  TransportChoice choice = env.transport_from_env;
  const bool tls_flag = parsed.Has("tls_ca") || parsed.Has("tls_cert") || parsed.Has("tls_key");
  if (parsed.Has("insecure_loopback_only")) {
    choice.files = TlsFiles();
    choice.insecure_loopback_only = true;
  } else if (tls_flag) {
    choice.insecure_loopback_only = false;
  }
  choice.files.ca = parsed.Get("tls_ca", choice.files.ca);
  choice.files.cert = parsed.Get("tls_cert", choice.files.cert);
  choice.files.key = parsed.Get("tls_key", choice.files.key);
  return choice;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::Status Annotate(const absl::Status& status, absl::string_view about) {
  if (status.ok() || status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded ||
      status.code() == absl::StatusCode::kUnimplemented) {
    return status;
  }
  std::string what;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      what = "not found";
      break;
    case absl::StatusCode::kFailedPrecondition:
      what = "refused";
      break;
    case absl::StatusCode::kInvalidArgument:
      what = "rejected";
      break;
    default:
      what = "failed";
      break;
  }
  std::string message = absl::StrCat(about, ": ", what);
  if (!status.message().empty()) absl::StrAppend(&message, " (", status.message(), ")");
  return absl::Status(status.code(), message);
}

ClusterClient& Invocation::Client() {
  if (client_ == nullptr) client_ = env->connect(server, timeout);
  return *client_;
}

int RunSlotctl(const std::vector<std::string>& args, const Environment& env) {
  // Global flags before the verb; the verb's own parser accepts them after.
  bool json_hint = false;
  for (const std::string& a : args) {
    if (a == "--json" || a == "--json=true") json_hint = true;
    if (a == "--") break;
  }
  absl::StatusOr<ParsedArgs> global = ParseArgs(args, GlobalFlags(), "", true);
  if (!global.ok()) return ReportError(env, json_hint, UsageError(global.status().message()), "");

  std::vector<std::string> rest = global->positional;
  if (rest.empty()) {
    if (global->Has("help")) {
      PrintOverview(*env.out);
      return 0;
    }
    return ReportError(env, json_hint, UsageError("no verb given"), "");
  }
  const std::string verb_name = rest[0];
  rest.erase(rest.begin());

  if (verb_name == "help") {
    if (rest.empty()) {
      PrintOverview(*env.out);
      return 0;
    }
    const VerbDef* verb = FindVerb(rest[0]);
    if (verb == nullptr) {
      return ReportError(env, json_hint, UsageError(absl::StrCat("unknown verb \"", rest[0], "\"")),
                         "");
    }
    PrintVerbHelp(*env.out, *verb);
    return 0;
  }

  const VerbDef* verb = FindVerb(verb_name);
  if (verb == nullptr) {
    return ReportError(env, json_hint, UsageError(absl::StrCat("unknown verb \"", verb_name, "\"")),
                       "");
  }

  std::vector<FlagSpec> specs = verb->flags;
  specs.insert(specs.end(), GlobalFlags().begin(), GlobalFlags().end());
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(rest, specs, verb->name);
  if (!parsed.ok()) {
    return ReportError(env, json_hint, UsageError(parsed.status().message()), verb->name);
  }
  // Global flags given before the verb count as if given after it.
  for (const auto& [name, value] : global->flags) {
    if (parsed->flags.count(name) > 0) {
      return ReportError(env, json_hint, UsageError(absl::StrCat("flag --", name, " given twice")),
                         verb->name);
    }
    parsed->flags[name] = value;
  }
  if (parsed->Has("help")) {
    PrintVerbHelp(*env.out, *verb);
    return 0;
  }

  Invocation inv;
  inv.env = &env;
  inv.verb = verb->name;
  inv.json = parsed->Has("json");
  absl::StatusOr<bool> color =
      ColorWanted(parsed->Get("color", "auto"), env.stdout_is_terminal, env.no_color);
  if (!color.ok())
    return ReportError(env, inv.json, UsageError(color.status().message()), verb->name);
  inv.color = !inv.json && *color;
  inv.server = parsed->Get(
      "server", env.server_from_env.empty() ? std::string(kDefaultServer) : env.server_from_env);
  if (absl::Status s = ValidateHostPort(inv.server); !s.ok()) {
    return ReportError(env, inv.json,
                       UsageError(absl::StrCat(
                           parsed->Has("server") ? "--server: " : "SLOTMGR_ADDR: ", s.message())),
                       verb->name);
  }
  if (env.install_transport && !IsToolVerb(*verb)) {
    const std::string server_name =
        parsed->Get("tls_server_name", env.server_name_from_env.empty() ? std::string("slotmgr")
                                                                        : env.server_name_from_env);
    if (absl::Status s = env.install_transport(ChooseTransport(*parsed, env), server_name);
        !s.ok()) {
      return ReportError(env, inv.json, UsageError(s.message()), verb->name);
    }
  }
  inv.timeout = absl::Seconds(10);
  if (parsed->Has("timeout")) {
    absl::StatusOr<absl::Duration> timeout = ParseDuration(parsed->Get("timeout"), "--timeout");
    if (!timeout.ok()) {
      return ReportError(env, inv.json, UsageError(timeout.status().message()), verb->name);
    }
    if (*timeout > absl::Hours(1)) {
      return ReportError(env, inv.json, UsageError("--timeout must be at most 1h"), verb->name);
    }
    inv.timeout = *timeout;
  }

  const int n = static_cast<int>(parsed->positional.size());
  if (n < verb->min_positional || n > verb->max_positional) {
    std::string message =
        n < verb->min_positional
            ? absl::StrCat("\"", verb->name, "\" needs more arguments: slotctl ", verb->usage[0])
            : absl::StrCat("\"", verb->name, "\" got an unexpected argument \"",
                           parsed->positional[verb->max_positional], "\"");
    return ReportError(env, inv.json, UsageError(message), verb->name);
  }

  absl::Status status = verb->run(inv, *parsed);
  if (!status.ok()) return ReportError(env, inv.json, status, verb->name);
  return inv.exit_code;
}

}  // namespace slotkeeper::slotctl
