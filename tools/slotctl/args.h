// slotctl's own small command-line parser and argument validators.
//
// Abseil flags are process-global, but each verb has its own flags and
// positional arguments, and a usage mistake must produce one clear line
// naming the flag or argument. Every function here is pure and thread-safe.
//
// Errors are INVALID_ARGUMENT whose message is meant to be shown as is.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_ARGS_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotctl {

struct FlagSpec {
  std::string name;        // without dashes, e.g. "since"
  bool takes_value;        // false: a boolean switch
  std::string value_name;  // e.g. "DURATION"; shown in usage
  std::string help;
};

struct ParsedArgs {
  std::vector<std::string> positional;
  // Flags that were given: name -> value ("true" for switches).
  std::map<std::string, std::string> flags;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
};

// Parses `args` against `specs`. Accepts "--name value", "--name=value",
// switches as "--name", "-h" for "--help", and "--" to end flags. When
// `stop_at_positional` is set, parsing stops at the first positional
// argument, which is left (with everything after it) in `positional`.
// `context` names the verb in error messages ("" for global flags).
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs, absl::string_view context,
                                     bool stop_at_positional = false);

// "HOST/SLOT" (also used for HOST/UNIT). `what` names the argument in the
// error, e.g. "--to".
absl::StatusOr<v1::SlotRef> ParseSlotRef(absl::string_view text, absl::string_view what);
// "HOST/SLOT,HOST/SLOT,...", at least one.
absl::StatusOr<std::vector<v1::SlotRef>> ParseSlotRefList(absl::string_view text,
                                                          absl::string_view what);
// A host, store or user name by the cluster's one rule (model::ValidateName);
// the error names it as `what`.
absl::Status ValidateName(absl::string_view text, absl::string_view what);

// The cluster's one duration grammar (base/duration.h: "90s", "1.5h", "1d12h",
// "500ms"); must be longer than zero.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view what);

// An integer within [min, max].
absl::StatusOr<int> ParseIntInRange(absl::string_view text, int min, int max,
                                    absl::string_view what);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_ARGS_H_
