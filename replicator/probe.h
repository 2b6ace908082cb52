// The health-probe seam and the condition bookkeeping shared by all probes.
//
// A Probe looks at one kind of evidence (mount table, write probe, kernel
// log, sysfs, statvfs) and returns the conditions that hold *now*. It does
// not remember when they began: ConditionTracker does, so that since_ms stays
// the time the evidence began and a condition disappears as soon as a probe
// stops returning it (no one-way latches).
#ifndef SLOTKEEPER_REPLICATOR_PROBE_H_
#define SLOTKEEPER_REPLICATOR_PROBE_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "proto/model.pb.h"

namespace slotkeeper::replicator {

using slotkeeper::v1::Condition;
using slotkeeper::v1::ConditionType;
using slotkeeper::v1::SubjectKind;

// One probe. Implementations say whether Check may block; none takes longer
// than reading a small file, except where noted. Check is called from one
// thread at a time (the health monitor's).
class Probe {
 public:
  virtual ~Probe() = default;
  // A short name for logs, e.g. "mount-table".
  virtual std::string Name() const = 0;
  // The conditions that hold at `now` (wall time, for reasons only; probes
  // keep their own timing on an injected Clock where they need it).
  virtual std::vector<Condition> Check(absl::Time now) = 0;
};

// Builds a condition with since_ms unset (the tracker fills it). Its `hard`
// bit follows model::IsHardConditionType, the rule the coordinator decides by.
Condition MakeCondition(ConditionType type, SubjectKind kind, absl::string_view subject,
                        absl::string_view reason);

// Keeps the current set of conditions, merged from all probes, with stable
// since_ms. Not thread-safe: owned by the health monitor's thread.
class ConditionTracker {
 public:
  // Replaces the current set with `current` (the union of every probe's
  // findings) at wall time `now_ms`. A condition already present (same type,
  // subject kind and subject) keeps its since_ms; its reason is refreshed.
  // Returns true when a condition appeared or disappeared.
  bool Update(const std::vector<Condition>& current, int64_t now_ms);

  std::vector<Condition> Current() const;

 private:
  using Key = std::tuple<int, int, std::string>;
  std::map<Key, Condition> conditions_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_PROBE_H_
