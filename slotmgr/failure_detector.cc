#include "slotmgr/failure_detector.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

void ApplyHardRule(Conditions* conditions) {
  for (v1::Condition& c : *conditions) c.set_hard(model::IsHardConditionType(c.type()));
}

v1::FilesystemState FilesystemStateFor(const std::string& mount_point,
                                       const Conditions& conditions) {
  auto rank = [](v1::FilesystemState s) {
    switch (s) {
      case v1::FS_IO_ERROR:
        return 4;
      case v1::FS_NOT_MOUNTED:
        return 3;
      case v1::FS_READ_ONLY:
        return 2;
      case v1::FS_HUNG:
        return 1;
      default:
        return 0;
    }
  };
  v1::FilesystemState state = v1::FS_OK;
  for (const v1::Condition& c : conditions) {
    if (c.subject_kind() != v1::SUBJECT_FILESYSTEM || c.subject() != mount_point) continue;
    v1::FilesystemState s = v1::FS_OK;
    switch (c.type()) {
      case v1::READ_ONLY:
        s = v1::FS_READ_ONLY;
        break;
      case v1::IO_ERROR:
        s = v1::FS_IO_ERROR;
        break;
      case v1::HUNG_IO:
        s = v1::FS_HUNG;
        break;
      case v1::NOT_MOUNTED:
        s = v1::FS_NOT_MOUNTED;
        break;
      default:
        break;
    }
    if (rank(s) > rank(state)) state = s;
  }
  return state;
}

bool UnitHasHardEvidence(const std::string& unit, const Conditions& conditions) {
  for (const v1::Condition& c : conditions) {
    if (c.subject_kind() == v1::SUBJECT_UNIT && c.subject() == unit &&
        model::IsHardConditionType(c.type())) {
      return true;
    }
  }
  return false;
}

std::string SlotHardReason(const std::string& slot, const Conditions& conditions) {
  for (const v1::Condition& c : conditions) {
    if (c.subject_kind() == v1::SUBJECT_SLOT && c.subject() == slot &&
        model::IsHardConditionType(c.type())) {
      return c.reason().empty() ? std::string("hard condition on the slot") : c.reason();
    }
  }
  return "";
}

SlotHealth SlotHealthFor(v1::HostState host, v1::UnitState unit, v1::FilesystemState fs,
                         const std::string& slot_hard_reason) {
  SlotHealth h;
  if (unit == v1::UNIT_LOST) {
    h = {false, "drive unit lost", true};
  } else if (unit == v1::UNIT_FAILED) {
    h = {false, "drive unit failed", true};
  } else if (fs != v1::FS_OK && fs != v1::FILESYSTEM_STATE_UNSPECIFIED) {
    h = {false, absl::StrCat("filesystem ", model::Name(fs)), true};
  } else if (!slot_hard_reason.empty()) {
    h = {false, slot_hard_reason, true};
  } else if (host == v1::HOST_DOWN) {
    h = {false, "host down", false};
  }
  // Hard evidence is only "from a live agent" while the host still reports.
  if (!h.usable && host == v1::HOST_DOWN) h.hard = false;
  return h;
}

int64_t EstimateClockOffsetMs(const v1::HealthReport& report, int64_t received_ms) {
  int64_t sent_ms = received_ms;  // in coordinator time
  if (report.echo_coordinator_time_ms() > 0 && report.echo_held_ms() >= 0) {
    int64_t rtt = (received_ms - report.echo_coordinator_time_ms()) - report.echo_held_ms();
    if (rtt < 0) rtt = 0;
    sent_ms = received_ms - rtt / 2;
  }
  return report.agent_time_ms() - sent_ms;
}

bool IsClockSkewed(int64_t offset_ms, int64_t max_clock_skew_ms) {
  return std::llabs(offset_ms) > max_clock_skew_ms;
}

}  // namespace slotkeeper::slotmgr
