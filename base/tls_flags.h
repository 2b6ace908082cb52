// The command-line flags that choose a process's transport security
// (base/tls.h), shared by every binary that opens a gRPC server or channel:
//
//   --tls_ca=FILE --tls_cert=FILE --tls_key=FILE   mutual TLS
//   --insecure_loopback_only                       plaintext on loopback only
//   --tls_refresh=DURATION                         how often the files are re-read
//                                                  (base/duration.h: e.g. 90s, 1h)
//
// Exactly one of the two must be chosen: a binary given neither refuses to
// start (there is no silent plaintext default, so a production host cannot
// end up without TLS by a forgotten flag), and one given both refuses too.
#ifndef SLOTKEEPER_BASE_TLS_FLAGS_H_
#define SLOTKEEPER_BASE_TLS_FLAGS_H_

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/duration.h"
#include "base/tls.h"

ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(bool, insecure_loopback_only);
ABSL_DECLARE_FLAG(slotkeeper::FlagDuration, tls_refresh);

namespace slotkeeper {

// What a binary was asked for, from flags, a config file or the environment.
struct TransportChoice {
  TlsFiles files;
  bool insecure_loopback_only = false;
  absl::Duration refresh = absl::Minutes(1);
};

// The setting `choice` asks for. InvalidArgument when it asks for neither or
// both, or names only some of the three files (the message says which flags
// to give, with `flag_prefix` before each name: "--" for flags, "" for
// config fields); the files' own errors as from TransportSecurity::MutualTls.
absl::StatusOr<std::shared_ptr<TransportSecurity>> ChooseTransportSecurity(
    const TransportChoice& choice, const std::string& flag_prefix = "--");

// The choice the flags above make.
TransportChoice TransportChoiceFromFlags();

// Chooses from the flags and installs the result as the process's setting.
absl::Status InstallTransportSecurityFromFlags();

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_TLS_FLAGS_H_
