// Who is on the other end of a gRPC call: the identity its TLS client
// certificate proves.
//
// An identity is the first DNS name in the certificate's subject alternative
// names (a host's certificate names the host, an operator's names the
// operator), else the certificate's common name. A call over a channel
// without TLS, or whose client sent no certificate, has no identity: it is
// anonymous, and every check that needs an identity refuses it.
#ifndef SLOTKEEPER_BASE_PEER_IDENTITY_H_
#define SLOTKEEPER_BASE_PEER_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace slotkeeper {

// The verified identity of the call's client; empty when anonymous. Takes
// the context of synchronous and callback handlers alike.
std::string PeerIdentity(const grpc::ServerContextBase& context);

// How an identity is shown in events and errors: the name, or "anonymous".
std::string DisplayIdentity(const std::string& identity);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_PEER_IDENTITY_H_
