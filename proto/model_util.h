// The cluster's shared vocabulary: what the words of model.proto mean in
// code. The coordinator, the agent and slotctl all decide "is this condition
// hard", "is this copy usable", "is this task finished" and "is this a valid
// name" here, so that they cannot disagree, and name enums and slots the
// same way. Pure functions; thread-safe.
#ifndef SLOTKEEPER_PROTO_MODEL_UTIL_H_
#define SLOTKEEPER_PROTO_MODEL_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"

namespace slotkeeper::model {

// ---- Names --------------------------------------------------------------

// "HOST/SLOT" (both parts as given, even when empty).
std::string SlotName(const v1::SlotRef& ref);
bool SameSlot(const v1::SlotRef& a, const v1::SlotRef& b);

// Short lower-case names of enum values, the same in logs, events, tables and
// flags: HOST_UP -> "up", STORE_NO_MASTER -> "no-master", FS_IO_ERROR ->
// "io-error", READ_ONLY -> "read-only", AUTOMATION_FROZEN -> "frozen".
// "unknown" for UNSPECIFIED and values this build does not know.
std::string Name(v1::HostState state);
std::string Name(v1::UnitState state);
std::string Name(v1::FilesystemState state);
std::string Name(v1::SlotRole role);
std::string Name(v1::StoreState state);
std::string Name(v1::TaskKind kind);
std::string Name(v1::TaskState state);
std::string Name(v1::ConditionType type);
std::string Name(v1::SubjectKind kind);
std::string Name(v1::EventSeverity severity);
std::string Name(v1::AutomationMode mode);

// Which kind of name ValidateName checks (for its error messages).
enum class NameKind { kHost, kUnit, kSlot, kStore, kUser };

inline constexpr size_t kMaxNameBytes = 255;

// One rule for every name an operator types and the cluster stores: host,
// drive unit, slot, store and user names. Non-empty, at most kMaxNameBytes,
// printable ASCII without space or '/', not starting with '.' or '-'. The
// names can then be typed on a command line, used as one path component and
// joined as "HOST/SLOT" without ambiguity. INVALID_ARGUMENT names the kind,
// the name (quoted, control characters escaped) and what is wrong.
absl::Status ValidateName(NameKind kind, absl::string_view name);
// The same rule, the error naming the name as `label` (a flag, an argument:
// "--store", "user").
absl::Status ValidateNameAs(absl::string_view label, absl::string_view name);

// ---- Durations ----------------------------------------------------------

// "850ms", "45s", "3m", "2h15m", "3d4h" for non-negative milliseconds
// (negative ones are shown as 0s).
std::string FormatDuration(int64_t duration_ms);

// ---- Rules --------------------------------------------------------------

// Hard conditions make the affected filesystems, slots or units unusable at
// once; soft ones are shown and kept as evidence. The kernel log's error
// lines (KERNEL_ERROR) are soft: they name a device, not a verdict, and the
// write probe turns a real failure into IO_ERROR within its interval.
bool IsHardConditionType(v1::ConditionType type);

// A copy that holds a complete store and can serve it: a master or a replica
// (not a seeding copy, a spare or a lost one).
bool IsServingRole(v1::SlotRole role);
// A serving copy whose slot is usable now.
bool IsUsableCopy(const v1::Copy& copy);
// The number of usable copies of a store, the figure compared with
// `required_copies` for HEALTHY / DEGRADED.
int CountUsableCopies(const v1::StoreInfo& store);

// DONE, FAILED and CANCELLED are final.
bool IsTaskFinished(v1::TaskState state);

}  // namespace slotkeeper::model

#endif  // SLOTKEEPER_PROTO_MODEL_UTIL_H_
