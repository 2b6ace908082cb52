// The audit record of the Automation API: who asked for what, and what came
// of it.
//
// Every call that changes the cluster is journaled after it ran, whatever
// its outcome, as an "audit.call" event naming the caller's certificate
// identity (Event.actor), the method, the request (its reason included) and
// the outcome; a call refused for the caller's role is journaled as
// "audit.denied". Reads are not journaled. A request's text is cut at
// kMaxRequestText bytes, so no caller can grow the journal by more than that
// per call.
//
// The record is committed after the action's own commit: a coordinator that
// dies between the two keeps the action and loses its audit line. The action
// itself journals what it changed, so the change is never invisible; only
// the caller's name can be missing in that case.
#ifndef SLOTKEEPER_SLOTMGR_AUDIT_H_
#define SLOTKEEPER_SLOTMGR_AUDIT_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

inline constexpr size_t kMaxRequestText = 2048;

// The audit event of `method` called by `actor` (an identity, or the
// display form of an anonymous caller) with `request`, which ended with
// `outcome`. PERMISSION_DENIED makes it "audit.denied". The subject fields
// (host, store, slot, unit) are taken from the request where it has them.
v1::Event AuditEvent(const std::string& actor, absl::string_view method,
                     const google::protobuf::Message& request, const absl::Status& outcome);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_AUDIT_H_
