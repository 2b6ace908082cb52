// The one place where gRPC meets the rest of the code: status conversion and
// credentials.
//
// Every server and channel in the project gets its credentials here, from
// the process's transport security (base/tls.h: mutual TLS, or plaintext
// refused off loopback), and nowhere else.
#ifndef SLOTKEEPER_BASE_GRPC_UTIL_H_
#define SLOTKEEPER_BASE_GRPC_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slotkeeper {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// A channel to `address` (HOST:PORT) with the process's transport security,
// expecting the server to prove `expected_identity` (empty: the host part of
// `address`; see base/tls.h). It sends keepalive pings (every 5 s, 3 s to
// answer, also with no call in flight), so a peer that stops answering is
// noticed within seconds even on an idle connection or a stalled stream;
// calls still need their own deadlines. An address the transport refuses
// (plaintext off loopback) gives a channel whose every call fails with
// FAILED_PRECONDITION naming the address.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::string& expected_identity = "");

// Adds a listening port on `listen` (HOST:PORT; port 0 picks one, written to
// `*port` once the server starts) with the process's transport security.
// FailedPrecondition names the address when plaintext refuses it.
absl::Status AddListeningPort(grpc::ServerBuilder& builder, const std::string& listen, int* port);

// Settings every server of the project uses: SO_REUSEPORT off (a second
// process on the same address fails to start instead of sharing the port
// and its connections), keepalive pings towards clients, and acceptance of
// the clients' own keepalive pings.
void ConfigureServerBuilder(grpc::ServerBuilder& builder);

// Checks that `address` is HOST:PORT with a port in 1..65535 (0 allowed when
// `allow_port_zero`, meaning "pick one"). The error names the address.
absl::Status ValidateHostPort(absl::string_view address, bool allow_port_zero = false);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_GRPC_UTIL_H_
