// Transport security: how every gRPC server and channel of a process is
// protected. One setting per process, installed once at startup by its main
// (base/tls_flags.h reads it from flags) and used by base/grpc_util.h for
// every listening port and every channel.
//
// Two settings exist, and nothing in between:
//  - Mutual TLS from three PEM files (the CA, this process's certificate and
//    its key). A server requires a client certificate and verifies its chain
//    against the CA; a client verifies the server's chain against the CA and
//    checks the server's name: the identity the caller expects (the
//    coordinator's name, a peer host's name) where it knows one, else the
//    host part of the address it dialled (the certificate must name that host
//    name or IP address). The files are re-read every `refresh` (gRPC's file
//    watcher: a key and certificate that do not match are refused and the
//    old pair kept), so a rotated certificate is used by new connections
//    without a restart; Reload() re-reads them at once for new channels.
//  - Plaintext, loopback only ("insecure_loopback_only"): no encryption and
//    no identities, refused for any address but 127.0.0.0/8, [::1] and
//    localhost, on the listening side and the dialling side alike.
//
// What mutual TLS stops: a network neighbour reading or altering the traffic
// (mail on the peer port, commands on the agent session), and any caller
// without a certificate from the cluster's CA reaching a service at all; it
// gives every call a verified identity (base/peer_identity.h) that the
// services authorize on. A client that checks the server's name also stops a
// host with a valid certificate from posing as the coordinator or as another
// peer. What it does not stop: a holder of any certificate of the CA (a
// stolen key, a compromised host) reaching every service: who may do what is
// decided by the services on the identity. There is no revocation list: a
// compromised certificate stays valid until it expires or the CA is
// replaced. The plaintext setting stops traffic leaving the machine, nothing
// more: every local process may call every service anonymously.
//
// Until a main installs a setting, the process uses plaintext loopback only,
// so that unit tests and in-process libraries run as before. Thread-safe.
#ifndef SLOTKEEPER_BASE_TLS_H_
#define SLOTKEEPER_BASE_TLS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace slotkeeper {

// The three PEM files of mutual TLS.
struct TlsFiles {
  std::string ca;    // certificate(s) of the CA that signs every peer
  std::string cert;  // this process's certificate (chain)
  std::string key;   // its private key
};

class TransportSecurity {
 public:
  // Plaintext restricted to loopback addresses.
  static std::shared_ptr<TransportSecurity> InsecureLoopbackOnly();
  // Mutual TLS from `files`, re-read every `refresh` (at least 1 s). Checks
  // that each file can be read and holds what it should (PEM certificates,
  // a PEM private key); the error names the file.
  static absl::StatusOr<std::shared_ptr<TransportSecurity>> MutualTls(
      const TlsFiles& files, absl::Duration refresh = absl::Minutes(1));

  bool is_tls() const { return tls_; }
  const TlsFiles& files() const { return files_; }
  // "mutual TLS (CA ..., certificate ..., key ...)" or "plaintext, loopback only".
  std::string Describe() const;

  // Credentials to listen on `listen` (HOST:PORT). Plaintext refuses a
  // non-loopback address (FailedPrecondition naming it).
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
      absl::string_view listen) const;

  // Credentials and channel arguments to dial `address`, expecting the server
  // to prove `expected_identity` (empty: the host part of `address`).
  // Plaintext refuses a non-loopback address (FailedPrecondition naming it).
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
      absl::string_view address, absl::string_view expected_identity,
      grpc::ChannelArguments& args) const;

  // Re-reads the files now for credentials made from here on (channels
  // opened later); servers already listening pick the files up at their next
  // refresh. Refuses (and keeps the old files) when one cannot be read.
  absl::Status Reload();

 private:
  TransportSecurity() = default;
  absl::Status CheckFiles() const;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider() const;

  bool tls_ = false;
  TlsFiles files_;
  unsigned int refresh_seconds_ = 60;
  mutable absl::Mutex mu_;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_
      ABSL_GUARDED_BY(mu_);
};

// The process's setting (plaintext loopback only until one is installed).
std::shared_ptr<TransportSecurity> ProcessTransportSecurity();
// Installs the process's setting; mains call it once, before any channel or
// server is made. Tests may call it again.
void SetProcessTransportSecurity(std::shared_ptr<TransportSecurity> security);

// True for 127.0.0.0/8, ::1 and "localhost" (HOST or HOST:PORT, IPv6 in
// brackets when a port follows).
bool IsLoopbackAddress(absl::string_view address);
// OK for a loopback address; else FailedPrecondition naming the address and
// why plaintext refuses it.
absl::Status CheckLoopbackAddress(absl::string_view address);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_TLS_H_
