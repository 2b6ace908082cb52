// Internal to slotctl: the verb table and the state one invocation carries.
// Verbs are split across verbs_cluster.cc (status, hosts, host),
// verbs_read.cc (the other read-only views), verbs_events.cc (events),
// verbs_write.cc (commands that change the cluster), verbs_maintenance.cc
// (drain's plan, host forget, task cancel/retry), verbs_quarantine.cc
// (quarantine list/show/restore/purge) and verbs_safety.cc (user unblock,
// store reconcile and the data-safety renderings).
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/slotctl/args.h"
#include "tools/slotctl/slotctl.h"

namespace slotkeeper::slotctl {

// One run of one verb. Owns the client, created on first use so that usage
// errors never need a server.
struct Invocation {
  const Environment* env = nullptr;
  std::string verb;
  bool json = false;
  bool color = false;
  std::string server;
  absl::Duration timeout;
  // Set to 1 by verbs that succeed in talking to the server but found
  // problems (ksck) or were refused (failover).
  int exit_code = 0;

  std::ostream& out() const { return *env->out; }
  std::ostream& err() const { return *env->err; }
  int64_t NowMs() const { return env->clock->NowMs(); }
  ClusterClient& Client();

 private:
  std::unique_ptr<ClusterClient> client_;
};

using VerbFn = absl::Status (*)(Invocation& inv, const ParsedArgs& args);

struct VerbDef {
  std::string name;
  std::vector<std::string> usage;  // synopsis lines after "slotctl "
  std::string summary;             // one line, for "slotctl help"
  std::string details;             // paragraphs, for "slotctl help VERB"
  std::vector<FlagSpec> flags;
  int min_positional;
  int max_positional;
  VerbFn run;
};

// A usage mistake (exit 2), as opposed to a failed operation (exit 1).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// Prefixes a server error with what it was about ("store \"st1\"") unless
// it is a transport failure that already names the server.
absl::Status Annotate(const absl::Status& status, absl::string_view about);

std::vector<VerbDef> ReadVerbs();
std::vector<VerbDef> WriteVerbs();
std::vector<VerbDef> SafetyVerbs();
std::vector<VerbDef> AutomationVerbs();   // verbs_automation.cc
std::vector<VerbDef> MaintenanceVerbs();  // verbs_maintenance.cc: task

// verbs_events.cc: the events verb (pages of the journal, --follow).
absl::Status RunEvents(Invocation& inv, const ParsedArgs& args);

// verbs_maintenance.cc: drain with its plan; `host` and `host forget`.
absl::Status RunDrainWithPlan(Invocation& inv, const ParsedArgs& args);
absl::Status RunHostVerb(Invocation& inv, const ParsedArgs& args);
// HOST or HOST/UNIT (or HOST/UNIT only, with `unit_required`) as a
// DrainRequest; a usage error names `what`.
absl::StatusOr<v1::DrainRequest> ParseDrainTarget(const std::string& text, bool unit_required,
                                                  const std::string& what);

// Asks `question` on stderr and reads the answer from stdin; true only for
// "y" or "yes". End of input counts as no.
bool Confirm(Invocation& inv, absl::string_view question);
// The error of an action the operator did not confirm.
absl::Status Aborted();
// A usage error naming the first of `flags` that was given, which `sub`
// ("store reconcile") does not take; OK when none was given.
absl::Status RejectFlags(const ParsedArgs& args, const std::vector<std::string>& flags,
                         absl::string_view sub);

// verbs_cluster.cc: the cluster-wide views and renderings shared by verbs.
absl::Status RunStatus(Invocation& inv, const ParsedArgs& args);
absl::Status RunHosts(Invocation& inv, const ParsedArgs& args);
absl::Status RunHost(Invocation& inv, const ParsedArgs& args);
// "running (automatic failovers in window: 1/5)", "PAUSED by bob 3m ago: ...".
std::string AutomationLine(const v1::AutomationState& state, int64_t now_ms, bool color);
// "imap4/s02 (unusable)", or "none".
std::string MasterName(const v1::StoreInfo& store);
void PrintStoresTable(Invocation& inv,
                      const google::protobuf::RepeatedPtrField<v1::StoreInfo>& stores, int indent);

// verbs_write.cc: the sub-verbs `store create` and `automation pause|resume`.
absl::Status RunStoreCreate(Invocation& inv, const ParsedArgs& args);
absl::Status RunAutomationSet(Invocation& inv, const ParsedArgs& args, bool pause);

// verbs_safety.cc: the sub-verbs `store reconcile` and `user unblock`, and
// what `store STORE` says about each copy's data safety.
absl::Status RunStoreReconcile(Invocation& inv, const ParsedArgs& args);
absl::Status RunUserUnblock(Invocation& inv, const ParsedArgs& args);
void PrintDataSafety(Invocation& inv, const v1::StoreInfo& store);
// Agent clock minus coordinator clock of every host (HostInfo.clock_offset_ms),
// to read times agents report (quarantine, scrub) against slotctl's clock.
absl::StatusOr<std::map<std::string, int64_t>> ClockOffsets(Invocation& inv);
// `raw` pairs of a key and its value already in compact JSON (ToJson(m,
// true), JsonQuote), as one indented object with the keys in that order: for
// outputs that no single proto message carries.
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& raw);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_
