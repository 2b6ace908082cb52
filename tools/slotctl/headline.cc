#include "tools/slotctl/headline.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper::slotctl {

Headline MailHeadline(const v1::ClusterStatus& status) {
  Headline h;
  for (const v1::StoreInfo& s : status.troubled_stores()) {
    if (s.state() == v1::STORE_NO_MASTER || s.state() == v1::STORE_UNAVAILABLE) {
      bool serving = false;
      for (const v1::Copy& c : s.copies()) serving |= c.role() == v1::SLOT_MASTER && c.serving();
      ++(serving && status.automation().brake_engaged() ? h.kept : h.no_master);
    }
    if (s.state() == v1::STORE_DEGRADED) ++h.degraded;
  }
  if (h.no_master > 0) {
    h.safety = MailSafety::kAtRisk;
    h.title = "MAIL AT RISK";
    h.detail = absl::StrCat(h.no_master,
                            " store(s) without a usable master (mail for their users is not "
                            "being delivered)");
  } else if (h.kept > 0) {
    h.safety = MailSafety::kDoubtedEvidence;
    h.title = "MAIL SERVED ON DOUBTED EVIDENCE";
    h.detail = absl::StrCat(h.kept,
                            " store(s) served by a master whose slot reports hard evidence (kept "
                            "while no replica can take over): mail is delivered there only if "
                            "that evidence is wrong");
  } else if (h.degraded > 0) {
    h.safety = MailSafety::kRedundancyReduced;
    h.title = "MAIL SAFE, REDUNDANCY REDUCED";
    h.detail = absl::StrCat("every store has a usable master; ", h.degraded,
                            " store(s) have fewer copies than required");
  } else if (status.stores_total() == 0) {
    h.safety = MailSafety::kNoStores;
    h.title = "NO STORES";
    h.detail = "the coordinator manages no store yet ('slotctl store create')";
  } else {
    h.safety = MailSafety::kSafe;
    h.title = "MAIL SAFE";
    h.detail = absl::StrCat("all ", status.stores_total(), " stores healthy");
  }
  return h;
}

const char* MailSafetyKey(MailSafety safety) {
  switch (safety) {
    case MailSafety::kAtRisk:
      return "at_risk";
    case MailSafety::kDoubtedEvidence:
      return "doubted_evidence";
    case MailSafety::kRedundancyReduced:
      return "redundancy_reduced";
    case MailSafety::kNoStores:
      return "no_stores";
    case MailSafety::kSafe:
      return "safe";
  }
  return "unknown";
}

}  // namespace slotkeeper::slotctl
