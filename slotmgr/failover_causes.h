// Why a store's master changed: the words the promoter writes into its
// store.failover event ("... (<why>[, automatic])"), shared with the
// metrics that count failovers by cause (journal_metrics.h), so the two
// cannot drift apart.
#ifndef SLOTKEEPER_SLOTMGR_FAILOVER_CAUSES_H_
#define SLOTKEEPER_SLOTMGR_FAILOVER_CAUSES_H_

#include "absl/strings/string_view.h"

namespace slotkeeper::slotmgr {

inline constexpr char kWhyHardEvidence[] = "master slot failed (hard evidence)";
inline constexpr char kWhyHostSilent[] = "master host silent";
inline constexpr char kWhyOperator[] = "operator failover";
inline constexpr char kWhyDrain[] = "master moved off a draining host";

// The cause label of a store.failover event's text: "hard_evidence",
// "host_silent", "operator", "drain", or "other" for a text none of the
// above appears in.
inline const char* FailoverCauseOf(absl::string_view event_text) {
  if (event_text.find(kWhyHardEvidence) != absl::string_view::npos) return "hard_evidence";
  if (event_text.find(kWhyHostSilent) != absl::string_view::npos) return "host_silent";
  if (event_text.find(kWhyOperator) != absl::string_view::npos) return "operator";
  if (event_text.find(kWhyDrain) != absl::string_view::npos) return "drain";
  return "other";
}

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_FAILOVER_CAUSES_H_
