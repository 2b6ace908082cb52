#include "base/tls.h"

#include <arpa/inet.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace slotkeeper {
namespace {

// A PEM file larger than this is not a certificate chain or a key.
constexpr size_t kMaxPemBytes = 1 << 20;

// The host part of HOST:PORT, [V6]:PORT or a bare HOST.
std::string HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close != absl::string_view::npos) return std::string(address.substr(1, close - 1));
  }
  const size_t colon = address.rfind(':');
  // More than one colon without brackets: a bare IPv6 address.
  if (colon != absl::string_view::npos && address.find(':') == colon) {
    return std::string(address.substr(0, colon));
  }
  return std::string(address);
}

// Reads `path` (at most kMaxPemBytes) and checks that it holds `marker`.
absl::Status CheckPemFile(const std::string& what, const std::string& path,
                          absl::string_view marker) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("no ", what, " file given"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(what, " file ", path, " cannot be read: ", std::strerror(errno)));
  }
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, " is larger than ", kMaxPemBytes, " bytes"));
  }
  if (!absl::StrContains(text, marker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, " holds no PEM \"", marker, "\" block"));
  }
  return absl::OkStatus();
}

absl::Mutex g_process_mu(absl::kConstInit);
std::shared_ptr<TransportSecurity>* g_process ABSL_GUARDED_BY(g_process_mu) = nullptr;

}  // namespace

std::shared_ptr<TransportSecurity> TransportSecurity::InsecureLoopbackOnly() {
  return std::shared_ptr<TransportSecurity>(new TransportSecurity());
}

absl::StatusOr<std::shared_ptr<TransportSecurity>> TransportSecurity::MutualTls(
    const TlsFiles& files, absl::Duration refresh) {
  std::shared_ptr<TransportSecurity> s(new TransportSecurity());
  s->tls_ = true;
  s->files_ = files;
  s->refresh_seconds_ =
      static_cast<unsigned int>(std::clamp<int64_t>(absl::ToInt64Seconds(refresh), 1, 86400));
  if (absl::Status st = s->Reload(); !st.ok()) return st;
  return s;
}

std::string TransportSecurity::Describe() const {
  if (!tls_) return "plaintext, loopback only";
  return absl::StrCat("mutual TLS (CA ", files_.ca, ", certificate ", files_.cert, ", key ",
                      files_.key, ", re-read every ", refresh_seconds_, " s)");
}

absl::Status TransportSecurity::CheckFiles() const {
  if (absl::Status s = CheckPemFile("CA", files_.ca, "-----BEGIN CERTIFICATE-----"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPemFile("certificate", files_.cert, "-----BEGIN CERTIFICATE-----");
      !s.ok()) {
    return s;
  }
  // "PRIVATE KEY-----" covers PKCS#8 and the traditional RSA / EC forms.
  return CheckPemFile("key", files_.key, "PRIVATE KEY-----");
}

absl::Status TransportSecurity::Reload() {
  if (!tls_) return absl::OkStatus();
  if (absl::Status s = CheckFiles(); !s.ok()) return s;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files_.key, files_.cert, files_.ca, refresh_seconds_);
  absl::MutexLock lock(&mu_);
  provider_ = std::move(provider);
  return absl::OkStatus();
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> TransportSecurity::Provider()
    const {
  absl::MutexLock lock(&mu_);
  return provider_;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TransportSecurity::ServerCredentials(
    absl::string_view listen) const {
  if (!tls_) {
    if (absl::Status s = CheckLoopbackAddress(listen); !s.ok()) return s;
    return grpc::InsecureServerCredentials();
  }
  grpc::experimental::TlsServerCredentialsOptions options(Provider());
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // No certificate from the CA, no connection.
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TransportSecurity::ChannelCredentials(
    absl::string_view address, absl::string_view expected_identity,
    grpc::ChannelArguments& args) const {
  if (!tls_) {
    if (absl::Status s = CheckLoopbackAddress(address); !s.ok()) return s;
    return grpc::InsecureChannelCredentials();
  }
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider());
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The server's certificate must name what the caller expects: the
  // identity given, else the host it dialled (the target name).
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  if (!expected_identity.empty()) {
    args.SetSslTargetNameOverride(std::string(expected_identity));
  }
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<TransportSecurity> ProcessTransportSecurity() {
  absl::MutexLock lock(&g_process_mu);
  if (g_process == nullptr) {
    g_process = new std::shared_ptr<TransportSecurity>(TransportSecurity::InsecureLoopbackOnly());
  }
  return *g_process;
}

void SetProcessTransportSecurity(std::shared_ptr<TransportSecurity> security) {
  absl::MutexLock lock(&g_process_mu);
  if (g_process == nullptr) {
    g_process = new std::shared_ptr<TransportSecurity>(std::move(security));
  } else {
    *g_process = std::move(security);
  }
}

bool IsLoopbackAddress(absl::string_view address) {
  const std::string host = HostOf(address);
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
  }
  return false;
}

absl::Status CheckLoopbackAddress(absl::string_view address) {
  if (IsLoopbackAddress(address)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "address \"", address,
      "\" is not a loopback address: plaintext (--insecure_loopback_only) is allowed only on "
      "127.0.0.0/8, [::1] and localhost; give --tls_ca, --tls_cert and --tls_key for mutual TLS"));
}

}  // namespace slotkeeper
