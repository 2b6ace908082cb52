// Loading and validating the agent's configuration (replicator/config.proto).
//
// ParseConfig refuses, with a message naming the line where it can: syntax
// errors and unknown fields (from the text-format parser), and then semantic
// errors (duplicate names, unknown unit / filesystem references, a slot
// outside its filesystem, two slots on one path, bad addresses). Defaults of
// ProbeConfig and HookConfig are filled in. Pure functions; thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_CONFIG_H_
#define SLOTKEEPER_REPLICATOR_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replicator/config.pb.h"

namespace slotkeeper::replicator {

// Parses and validates `text` (the contents of a config file; `source_name`
// is used in messages). InvalidArgument names the line and what is wrong.
absl::StatusOr<AgentConfig> ParseConfig(absl::string_view text,
                                        absl::string_view source_name = "config");

// Reads `path` and calls ParseConfig. NotFound / PermissionDenied name the
// path when it cannot be read.
absl::StatusOr<AgentConfig> LoadConfig(const std::string& path);

// True when `path` is `dir` or below it (both absolute, compared by
// components: "/srv/du10" is not inside "/srv/du1").
bool PathIsInside(absl::string_view path, absl::string_view dir);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_CONFIG_H_
