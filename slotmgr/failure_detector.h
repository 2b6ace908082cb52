// The failure detector: turns an agent's conditions and the coordinator's
// measure of silence and clock offset into unit, filesystem and slot health.
//
// Pure functions over values; the coordinator calls them with its injected
// clock's time. Thread-safe.
//
// Hard evidence (model::IsHardConditionType: READ_ONLY, IO_ERROR, HUNG_IO,
// NOT_MOUNTED, UNIT_OFFLINE) makes the affected slots unusable at once; it
// stops counting as soon as the agent no longer reports it. Silence counts
// only through the host state (SUSPECT after `suspect_after`, DOWN after
// `down_after`; model.h).
#ifndef SLOTKEEPER_SLOTMGR_FAILURE_DETECTOR_H_
#define SLOTKEEPER_SLOTMGR_FAILURE_DETECTOR_H_

#include <cstdint>
#include <string>

#include "google/protobuf/repeated_field.h"
#include "proto/agent.pb.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

using Conditions = google::protobuf::RepeatedPtrField<v1::Condition>;

// Sets every condition's `hard` bit from model::IsHardConditionType, the rule
// the detector acts on: what the coordinator stores and shows is its own
// verdict, never the bit an agent sent.
void ApplyHardRule(Conditions* conditions);

// The filesystem's state from the hard conditions about it (FS_OK if none).
// When several hold, the most severe wins: I/O errors, then not mounted,
// then read-only, then hung.
v1::FilesystemState FilesystemStateFor(const std::string& mount_point,
                                       const Conditions& conditions);

// True when a hard condition names the unit itself (e.g. UNIT_OFFLINE).
bool UnitHasHardEvidence(const std::string& unit, const Conditions& conditions);

// A hard condition about one slot, if any ("" when none).
std::string SlotHardReason(const std::string& slot, const Conditions& conditions);

struct SlotHealth {
  bool usable = true;
  std::string reason;  // why not, for humans; empty when usable
  // The slot is unusable because of evidence from a live agent (not silence).
  bool hard = false;
};

SlotHealth SlotHealthFor(v1::HostState host, v1::UnitState unit, v1::FilesystemState fs,
                         const std::string& slot_hard_reason);

// Agent clock minus coordinator clock, in ms. With an echoed ping, the report
// left the agent about rtt/2 before it arrived, where rtt = (received -
// echoed ping time) - time the agent held the ping. Without one (first
// report), the transit time is taken as zero.
int64_t EstimateClockOffsetMs(const v1::HealthReport& report, int64_t received_ms);

// |offset| beyond the allowed skew.
bool IsClockSkewed(int64_t offset_ms, int64_t max_clock_skew_ms);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_FAILURE_DETECTOR_H_
