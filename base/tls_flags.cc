#include "base/tls_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, tls_ca, "", "mutual TLS: PEM file of the CA that signs every peer");
ABSL_FLAG(std::string, tls_cert, "", "mutual TLS: PEM file of this process's certificate");
ABSL_FLAG(std::string, tls_key, "", "mutual TLS: PEM file of this process's private key");
ABSL_FLAG(bool, insecure_loopback_only, false,
          "no TLS: plaintext, refused on every address but 127.0.0.0/8, [::1] and localhost "
          "(tests and demos on one machine)");
ABSL_FLAG(slotkeeper::FlagDuration, tls_refresh, absl::Minutes(1),
          "how often the TLS files are re-read (rotated certificates; SIGHUP re-reads at once)");

namespace slotkeeper {

absl::StatusOr<std::shared_ptr<TransportSecurity>> ChooseTransportSecurity(
    const TransportChoice& choice, const std::string& flag_prefix) {
  const TlsFiles& f = choice.files;
  const int given = !f.ca.empty() + !f.cert.empty() + !f.key.empty();
  const std::string tls_flags =
      absl::StrCat(flag_prefix, "tls_ca, ", flag_prefix, "tls_cert and ", flag_prefix, "tls_key");
  const std::string insecure = absl::StrCat(flag_prefix, "insecure_loopback_only");
  if (given == 0 && !choice.insecure_loopback_only) {
    return absl::InvalidArgumentError(absl::StrCat("no transport security chosen: give ", tls_flags,
                                                   " (mutual TLS), or ", insecure,
                                                   " (plaintext, on loopback addresses only)"));
  }
  if (given > 0 && choice.insecure_loopback_only) {
    return absl::InvalidArgumentError(
        absl::StrCat(insecure, " and TLS files given together: choose one"));
  }
  if (choice.insecure_loopback_only) return TransportSecurity::InsecureLoopbackOnly();
  if (given < 3) {
    return absl::InvalidArgumentError(absl::StrCat("mutual TLS needs all of ", tls_flags));
  }
  if (choice.refresh < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(flag_prefix, "tls_refresh must be at least 1s"));
  }
  return TransportSecurity::MutualTls(f, choice.refresh);
}

TransportChoice TransportChoiceFromFlags() {
  TransportChoice choice;
  choice.files = {absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
                  absl::GetFlag(FLAGS_tls_key)};
  choice.insecure_loopback_only = absl::GetFlag(FLAGS_insecure_loopback_only);
  choice.refresh = absl::GetFlag(FLAGS_tls_refresh);
  return choice;
}

absl::Status InstallTransportSecurityFromFlags() {
  absl::StatusOr<std::shared_ptr<TransportSecurity>> security =
      ChooseTransportSecurity(TransportChoiceFromFlags());
  if (!security.ok()) return security.status();
  SetProcessTransportSecurity(*std::move(security));
  return absl::OkStatus();
}

}  // namespace slotkeeper
