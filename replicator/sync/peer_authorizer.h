// Who may read a slot through this agent's ReplicaPeer service.
//
// Each caller is the identity its TLS client certificate proves
// (base/peer_identity.h). A slot may be read by the hosts the coordinator
// granted it to (agent.proto PeerGrants: the hosts holding or receiving a
// copy of its store; each grant replaces the last) and by the identities
// always allowed (the coordinator's own, for data checks). Anonymous callers
// are allowed only when the agent runs plaintext on loopback, where nobody
// has an identity. Until the first grants arrive, no host may read.
//
// What it stops: a host of the cluster (a valid certificate, a compromised
// or misconfigured agent) reading the mail of a store it neither holds nor
// is copying; an operator's certificate reading mail from a peer port. What
// it does not stop: a host that holds a copy reading the whole store, nor
// the coordinator's identity reading anything. Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_PEER_AUTHORIZER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_PEER_AUTHORIZER_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/agent.pb.h"

namespace slotkeeper::sync {

class PeerAuthorizer {
 public:
  PeerAuthorizer(bool anonymous_allowed, std::set<std::string> always_allowed);

  // Replaces every slot's readers with `grants`.
  void Update(const v1::PeerGrants& grants);

  // OK when `identity` ("" = anonymous) may read `slot`; else
  // PERMISSION_DENIED naming the slot and the caller.
  absl::Status Check(const std::string& identity, const std::string& slot) const;

 private:
  const bool anonymous_allowed_;
  const std::set<std::string> always_allowed_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::set<std::string>> readers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_PEER_AUTHORIZER_H_
