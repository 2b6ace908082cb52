#include "base/peer_identity.h"

#include <grpc/grpc_security_constants.h>

namespace slotkeeper {
namespace {

std::string FirstValue(const grpc::AuthContext& auth, const char* property) {
  for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
    if (value.size() > 0) return std::string(value.data(), value.size());
  }
  return "";
}

}  // namespace

std::string PeerIdentity(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  // Only a certificate the server verified counts: IsPeerAuthenticated is
  // true once the TLS handshake checked the client's chain against the CA.
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::string name = FirstValue(*auth, GRPC_PEER_DNS_PROPERTY_NAME);
  if (name.empty()) name = FirstValue(*auth, GRPC_X509_CN_PROPERTY_NAME);
  return name;
}

std::string DisplayIdentity(const std::string& identity) {
  return identity.empty() ? "anonymous" : identity;
}

}  // namespace slotkeeper
