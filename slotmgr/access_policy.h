// Who may do what on slotmgrd: operator roles on the Automation API, and
// which host an agent may speak for on the AgentService.
//
// Roles are ordered, each including the ones below it:
//   viewer    reads, watches and LookupUser (dashboards, mail proxies);
//   operator  drain, failover, automation pause/resume/ack, reinstate,
//             unblock, quarantine restore, reconcile, ksck --verify-data;
//   admin     mark-lost, store create, quarantine purge, forced failover.
// An identity is the name a caller's client certificate proves
// (base/peer_identity.h). The policy file maps identities to roles, one role
// per line, '#' starts a comment:
//     viewer    imap-proxy-1 imap-proxy-2
//     operator  alice
//     admin     bob
// An identity the file does not list holds no role and can call nothing on
// the Automation API: a host's certificate is not an operator's. An agent
// may register and hold a session only as the host its certificate names,
// so a stolen or compromised host key cannot rewrite another host's
// address or take over its session.
//
// Without a policy file (Default()), an anonymous caller holds admin and
// may speak for any host, and every named caller holds nothing. Anonymous
// callers exist only in plaintext mode (slotmgrd --insecure_loopback_only,
// for tests and single-machine trials; the transport then refuses
// non-loopback addresses): with TLS the server requires a client
// certificate, so there every caller is named, agents may speak for their
// own hosts, and no operator may act until a policy file names them.
#ifndef SLOTKEEPER_SLOTMGR_ACCESS_POLICY_H_
#define SLOTKEEPER_SLOTMGR_ACCESS_POLICY_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slotkeeper::slotmgr {

enum class Role { kNone = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };

// "none", "viewer", "operator", "admin".
const char* RoleName(Role role);

class AccessPolicy {
 public:
  // Largest policy file read, and most identities in it.
  static constexpr size_t kMaxFileBytes = 1 << 20;
  static constexpr size_t kMaxIdentities = 10000;

  // No policy file: anonymous callers are admin and may speak for any host;
  // named callers hold no role.
  static AccessPolicy Default();
  // A policy from the file format above. INVALID_ARGUMENT names `source`,
  // the line and what is wrong: an unknown role, a malformed identity, an
  // identity given two roles.
  static absl::StatusOr<AccessPolicy> Parse(absl::string_view text, absl::string_view source);
  // Parse() of the file at `path`.
  static absl::StatusOr<AccessPolicy> Load(const std::string& path);

  // Whether anonymous callers are trusted (no policy file).
  bool trusts_anonymous() const { return trust_anonymous_; }
  // The role `identity` holds (kNone when unlisted; admin for anonymous
  // callers without a policy file).
  Role RoleOf(const std::string& identity) const;
  // OK when `identity` holds at least `needed`; PERMISSION_DENIED naming
  // `method`, the role it needs and the caller with its role otherwise.
  absl::Status Authorize(const std::string& identity, Role needed, absl::string_view method) const;
  // OK when `identity` may speak for the agent of `host` (it is that host's
  // certificate; any anonymous caller without a policy file);
  // PERMISSION_DENIED otherwise.
  absl::Status AuthorizeHost(const std::string& identity, const std::string& host,
                             absl::string_view method) const;

 private:
  bool trust_anonymous_ = false;
  std::map<std::string, Role> roles_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_ACCESS_POLICY_H_
