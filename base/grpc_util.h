// The one place where gRPC meets the rest of the code: status conversion and
// credentials.
//
// Every server and channel in the project gets its credentials here. Today
// they are insecure, which is acceptable only on loopback; mutual TLS with
// host identities replaces them here, and nowhere else.
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

std::shared_ptr<grpc::ServerCredentials> ServerCredentials();
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials();

// A channel to `address` (HOST:PORT) with the project's credentials.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Checks that `address` is HOST:PORT with a port in 1..65535 (0 allowed when
// `allow_port_zero`, meaning "pick one"). The error names the address.
absl::Status ValidateHostPort(absl::string_view address, bool allow_port_zero = false);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_GRPC_UTIL_H_
