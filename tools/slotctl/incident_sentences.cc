// IncidentSentence and StoresText (incident_timeline.h): each journal event
// in words for mail users, for the kinds the coordinator emits
// (proto/event_kinds.h); anything else reads as the coordinator's own text.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "tools/slotctl/incident_timeline.h"

namespace slotkeeper::slotctl {
namespace {

namespace ek = event_kind;

bool IsSerious(const v1::Event& e) {
  return e.severity() == v1::WARNING || e.severity() == v1::CRITICAL;
}

// The words for the event's subject.
struct Words {
  std::string server;  // "mail server imap4"
  std::string where;   // " (du2) on mail server imap4"
  std::string unit;    // "the disk enclosure (du2) on mail server imap4"
  std::string stores;  // "store st5", "stores st5 and st6"
  bool plural = false;
  bool units = false;  // more than one drive unit

  const char* Of(const char* one, const char* many) const { return plural ? many : one; }
};

Words WordsFor(const v1::Event& e, const std::set<std::string>& stores,
               const std::set<std::string>& units) {
  Words w;
  w.server = absl::StrCat("mail server ", e.host().empty() ? "?" : e.host());
  std::vector<std::string> names(units.begin(), units.end());
  if (names.empty() && !e.unit().empty()) names.push_back(e.unit());
  w.units = names.size() > 1;
  w.where = absl::StrCat(names.empty() ? "" : " (" + absl::StrJoin(names, " and ") + ")", " on ",
                         w.server);
  w.unit = absl::StrCat("the disk enclosure", w.where);
  w.stores = StoresText(stores);
  w.plural = stores.size() > 1;
  return w;
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string HardwareSentence(const v1::Event& e, const Words& w) {
  const std::string& kind = e.kind();
  const std::string of_stores = w.stores.empty() ? "" : absl::StrCat(" (mail of ", w.stores, ")");
  if (kind == ek::kUnitFailed) return absl::StrCat("A disk enclosure", w.where, " failed.");
  if (kind == ek::kUnitOnline) return Capitalized(absl::StrCat(w.unit, " works again."));
  if (kind == ek::kUnitSecondOpinion) {
    return absl::StrCat("Before retiring the disk enclosure", w.units ? "s" : "", w.where,
                        ", we checked whether ", w.units ? "their" : "its",
                        " data can still be read.");
  }
  if (kind == ek::kUnitHeld) {
    return Capitalized(absl::StrCat(w.unit,
                                    " can still be read: it stays out of service, its data "
                                    "kept, until engineers have checked it."));
  }
  if (kind == ek::kUnitLost) {
    return absl::StrCat("The failed disk enclosure", w.units ? "s" : "", w.where,
                        w.units ? " were" : " was", " taken out of service; the mail ",
                        w.units ? "they" : "it", " held is being copied to other servers.");
  }
  if (kind == ek::kUnitFlapping) {
    return Capitalized(absl::StrCat(w.unit,
                                    " keeps failing and recovering; no new mail is placed "
                                    "on it."));
  }
  if (kind == ek::kUnitFlapEnded) return Capitalized(absl::StrCat(w.unit, " is stable again."));
  if (kind == ek::kUnitReinstated) {
    return absl::StrCat("Engineers returned ", w.unit, " to service after checking its data.");
  }
  if (kind == ek::kFilesystemState || kind == ek::kSlotUnusable || kind == ek::kSlotUsable) {
    const bool bad = kind == ek::kSlotUnusable || (kind == ek::kFilesystemState && IsSerious(e));
    return absl::StrCat(bad ? "Part of the storage on " : "Storage on ", w.server,
                        bad ? " stopped working" : " works again", of_stores, ".");
  }
  if (kind == ek::kHostConditions) {
    return IsSerious(e) ? absl::StrCat("Mail server ", e.host(), " reported problems.")
                        : absl::StrCat("Mail server ", e.host(), " reports no problems any more.");
  }
  if (kind == ek::kHostSuspect)
    return absl::StrCat("Mail server ", e.host(), " stopped responding.");
  if (kind == ek::kHostDown) return absl::StrCat("Mail server ", e.host(), " is unreachable.");
  if (kind == ek::kHostUp) return absl::StrCat("Mail server ", e.host(), " responds again.");
  if (kind == ek::kHostClockSkewed) {
    return absl::StrCat("The clock of ", w.server,
                        " is wrong; it will not take over mail delivery until it is fixed.");
  }
  if (kind == ek::kHostClockOk) return absl::StrCat("The clock of ", w.server, " is right again.");
  if (kind == ek::kHostDrain) {
    return absl::StrCat("Engineers started moving mail off ", e.unit().empty() ? w.server : w.unit,
                        ".");
  }
  if (kind == ek::kHostUndrain) {
    return absl::StrCat("Engineers returned ", e.unit().empty() ? w.server : w.unit,
                        " to normal service.");
  }
  return "";
}

std::string CopySentence(const v1::Event& e, const Words& w) {
  const std::string& kind = e.kind();
  if (kind == ek::kSlotNotServing) {
    return absl::StrCat("The mail server for ", w.stores, " on ", e.host(),
                        " stopped serving mail.");
  }
  if (kind == ek::kSlotServing) {
    return absl::StrCat("The mail server for ", w.stores, " on ", e.host(), " serves mail again.");
  }
  if (kind == ek::kSlotCorruptFiles) {
    return e.severity() == v1::CRITICAL
               ? absl::StrCat("Damaged files were found on the main copy of ", w.stores,
                              "; engineers are looking into it.")
               : absl::StrCat("Damaged files were found on a backup copy of ", w.stores,
                              "; they were set aside and fetched again from the main copy.");
  }
  if (kind == ek::kSlotIdentityChanged) {
    return absl::StrCat("A copy of ", w.stores, " on ", w.server,
                        " was found emptied or replaced; it is not used until it is verified.");
  }
  if (kind == ek::kSlotContentsMismatch) {
    return absl::StrCat(
        "A copy of ", w.stores, " on ", w.server,
        " holds mailboxes served from another store; where their mail goes was not changed.");
  }
  if (kind == ek::kCopyLost) {
    return absl::StrCat(w.Of("The copy", "The copies"), " of ", w.stores, " on the failed storage ",
                        w.Of("was", "were"), " written off.");
  }
  if (kind == ek::kCopyDropped) {
    return absl::StrCat(w.Of("The old copy", "The old copies"), " of ", w.stores,
                        " on the failed storage ", w.Of("was", "were"), " retired.");
  }
  if (kind == ek::kReplicationBlocked) {
    return absl::StrCat("Updating a backup copy of ", w.stores,
                        " was stopped for a mailbox whose mail mostly disappeared at the source; "
                        "the backup keeps it until engineers have checked.");
  }
  if (kind == ek::kReplicationUnblocked) {
    return absl::StrCat("Updating the backup copy of ", w.stores, " runs again for that mailbox.");
  }
  return "";
}

std::string StoreSentence(const v1::Event& e, const Words& w) {
  const std::string& kind = e.kind();
  if (kind == ek::kStoreState) {
    switch (e.severity()) {
      case v1::CRITICAL:
        return absl::StrCat("Mail for ", w.stores, " could not be delivered or read.");
      case v1::WARNING:
        return absl::StrCat("Mail for ", w.stores,
                            " is delivered and read, with fewer backup copies than usual.");
      default:
        return absl::StrCat("Every backup copy of ", w.stores, " is in place again.");
    }
  }
  if (kind == ek::kStoreFailover) {
    return absl::StrCat(
        "Mail delivery for ", w.stores, " was moved to ",
        w.Of("an up-to-date copy on another server", "up-to-date copies on other servers"), ".");
  }
  if (kind == ek::kStoreFailoverRequested) {
    return absl::StrCat("Engineers asked to move mail delivery for ", w.stores,
                        " to another copy.");
  }
  if (kind == ek::kStoreFailoverRefused || kind == ek::kStoreFailoverRateLimited) {
    return absl::StrCat("Moving mail delivery for ", w.stores,
                        " was held back as a safety measure; engineers are reviewing it.");
  }
  if (kind == ek::kStoreFailoverWaitsFailsafe) {
    return absl::StrCat("Moving mail delivery for ", w.stores,
                        " waits until the old copy can no longer accept mail.");
  }
  if (kind == ek::kStorePromoteFailed) {
    return absl::StrCat("Switching ", w.stores, " to another copy failed; the next one is tried.");
  }
  if (kind == ek::kStoreRepromote) {
    return absl::StrCat("The mail server for ", w.stores, " was started again on its copy.");
  }
  if (kind == ek::kStoreFailsafe) {
    return absl::StrCat("Mail for ", w.stores,
                        " keeps being served while our control system is out of reach.");
  }
  if (kind == ek::kStoreFailsafeEnded) {
    return absl::StrCat("Mail for ", w.stores, " is under normal control again.");
  }
  if (kind == ek::kStoreFinalPull) {
    if (absl::StrContains(e.text(), "incomplete")) {
      return absl::StrCat("Not all of the latest mail of ", w.stores,
                          " could be copied off the failing storage before switching.");
    }
    if (e.severity() == v1::INFO) {
      return absl::StrCat("The latest mail of ", w.stores, " was copied off the failing storage.");
    }
    return absl::StrCat("Before switching, the latest mail of ", w.stores,
                        " is copied once more off the failing storage.");
  }
  if (kind == ek::kStoreStrandedMail) {
    return absl::StrCat("Some mail of ", w.stores,
                        " delivered shortly before the move is still only on the previous "
                        "copy; it is kept safe and will be copied back.");
  }
  if (kind == ek::kStoreStrandedCleared) {
    return absl::StrCat("The held-back mail of ", w.stores, " is back in place.");
  }
  if (kind == ek::kStoreReconcile) {
    return absl::StrCat("Engineers started copying the held-back mail of ", w.stores, " back.");
  }
  if (kind == ek::kQuarantineRestore) {
    return absl::StrCat("Engineers restored set-aside mail in ", w.stores, ".");
  }
  if (kind == ek::kUserUnblock) {
    return absl::StrCat("Engineers checked a mailbox in ", w.stores,
                        " and let its backup copies follow it again.");
  }
  return "";
}

std::string TaskSentence(const v1::Event& e, const Words& w) {
  const std::string& kind = e.kind();
  const bool catch_up = absl::StrContains(e.text(), ": catch up ");
  if (kind == ek::kTaskCreated) {
    if (catch_up) return absl::StrCat("Bringing the copies of ", w.stores, " up to date.");
    return absl::StrCat(w.Of("A new backup copy", "New backup copies"), " of ", w.stores, " ",
                        w.Of("was started on another server", "were started on other servers"),
                        ".");
  }
  if (kind == ek::kTaskStarted) return absl::StrCat("Copying the mail of ", w.stores, ".");
  if (kind == ek::kTaskResent) {
    return absl::StrCat("Copying the mail of ", w.stores, " resumed after a server restart.");
  }
  if (kind == ek::kTaskRetry) {
    return absl::StrCat("Copying the mail of ", w.stores, " was interrupted; it is retried.");
  }
  if (kind == ek::kTaskFailed) {
    return absl::StrCat("Copying the mail of ", w.stores,
                        " gave up; engineers are looking into it.");
  }
  if (kind == ek::kTaskCancelled) {
    return absl::StrCat("A copy of ", w.stores, " no longer needed was cancelled.");
  }
  if (kind == ek::kTaskDone) {
    return absl::StrCat(w.Of("A new backup copy", "New backup copies"), " of ", w.stores, " ",
                        w.Of("is", "are"), " complete and verified.");
  }
  if (kind == ek::kPlacementRefused) {
    return absl::StrCat("No server had room for a new backup copy of ", w.stores, ".");
  }
  return "";
}

std::string AutomationSentence(const v1::Event& e, const Words& w) {
  const std::string& kind = e.kind();
  if (kind == ek::kAutomationFrozen) {
    return "Automatic recovery stopped itself as a safety measure; engineers are in control.";
  }
  if (kind == ek::kAutomationPaused) return "Engineers paused automatic recovery.";
  if (kind == ek::kAutomationResumed) return "Automatic recovery resumed.";
  if (kind == ek::kAutomationBrake) {
    return "Automatic recovery was limited as a safety measure (problems on many servers at "
           "once); engineers are reviewing it.";
  }
  if (kind == ek::kAutomationBrakeAcknowledged) {
    return "Engineers reviewed the situation and lifted the safety limit on automatic recovery.";
  }
  if (kind == ek::kAutomationHeldBack) {
    return absl::StrCat("An automatic recovery step",
                        w.stores.empty() ? "" : absl::StrCat(" for ", w.stores),
                        " was held back by a safety limit.");
  }
  if (kind == ek::kAutomationHostPaused) {
    return absl::StrCat("Engineers paused automatic recovery on ", w.server, ".");
  }
  if (kind == ek::kAutomationHostResumed) {
    return absl::StrCat("Automatic recovery on ", w.server, " resumed.");
  }
  return "";
}

}  // namespace

std::string StoresText(const std::set<std::string>& stores) {
  constexpr size_t kNamed = 5;
  std::vector<std::string> names(stores.begin(), stores.end());
  if (names.empty()) return "";
  if (names.size() == 1) return absl::StrCat("store ", names[0]);
  if (names.size() <= kNamed + 1) {
    const std::string last = names.back();
    names.pop_back();
    return absl::StrCat("stores ", absl::StrJoin(names, ", "), " and ", last);
  }
  names.resize(kNamed);
  return absl::StrCat(stores.size(), " stores (", absl::StrJoin(names, ", "), " and ",
                      stores.size() - kNamed, " more)");
}

std::string IncidentSentence(const v1::Event& e, const std::set<std::string>& stores,
                             const std::set<std::string>& units) {
  const Words w = WordsFor(e, stores, units);
  for (auto* sentence :
       {HardwareSentence, CopySentence, StoreSentence, TaskSentence, AutomationSentence}) {
    if (std::string s = sentence(e, w); !s.empty()) return s;
  }
  std::string s = e.text().empty() ? e.kind() : e.text();
  if (!absl::EndsWith(s, ".")) s.push_back('.');
  return Capitalized(s);
}

}  // namespace slotkeeper::slotctl
