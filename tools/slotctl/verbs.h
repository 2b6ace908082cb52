// Internal to slotctl: the verb table and the state one invocation carries.
// Verbs are split across verbs_cluster.cc (status, hosts, host),
// verbs_read.cc (the other read-only views) and verbs_write.cc (commands that
// change the cluster).
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_VERBS_H_
