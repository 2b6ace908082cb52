// The mail-safety headline: the first thing `slotctl status` and the
// coordinator's status page (slotmgr/status_page.h) say about a cluster,
// from its ClusterStatus alone.
//
// Pure and thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_HEADLINE_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_HEADLINE_H_

#include <string>

#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

// From worst to best; the headline is the worst that applies.
enum class MailSafety {
  kAtRisk,             // a store without a usable master
  kDoubtedEvidence,    // a master kept serving although its slot reports hard evidence
  kRedundancyReduced,  // every master usable, some store short of copies
  kNoStores,           // nothing managed yet
  kSafe,               // every store healthy
};

struct Headline {
  MailSafety safety = MailSafety::kSafe;
  std::string title;   // "MAIL AT RISK", "MAIL SAFE", "NO STORES", ...
  std::string detail;  // the sentence after "TITLE: "
  // The troubled stores counted by what they mean for mail. A store whose
  // master reports hard evidence but serves (the evidence brake keeps its
  // lease while no replica can take over) counts as `kept`, not `no_master`.
  int no_master = 0;
  int degraded = 0;
  int kept = 0;
};

Headline MailHeadline(const v1::ClusterStatus& status);

// "at_risk", "doubted_evidence", "redundancy_reduced", "no_stores", "safe":
// a stable key for scripts and the status page's colours.
const char* MailSafetyKey(MailSafety safety);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_HEADLINE_H_
