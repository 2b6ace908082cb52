#include "base/grpc_util.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/tls.h"

namespace slotkeeper {

// absl::StatusCode and grpc::StatusCode share their numbering (both follow
// google.rpc.Code), so the conversion is a cast; the static_asserts keep it
// honest.
static_assert(static_cast<int>(absl::StatusCode::kUnavailable) ==
              static_cast<int>(grpc::StatusCode::UNAVAILABLE));
static_assert(static_cast<int>(absl::StatusCode::kFailedPrecondition) ==
              static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

namespace {

// A channel whose every call fails at once with `status`: what MakeChannel
// gives for an address the transport refuses, so that callers see why.
std::shared_ptr<grpc::Channel> RefusedChannel(const std::string& address,
                                              const absl::Status& status) {
  grpc_init();  // the C core must be up to make a channel; the wrapper keeps its own reference
  grpc_channel* lame =
      grpc_lame_client_channel_create(address.c_str(), static_cast<grpc_status_code>(status.code()),
                                      std::string(status.message()).c_str());
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannelInternal("", lame, {});
  grpc_shutdown();
  return channel;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::string& expected_identity) {
  grpc::ChannelArguments args;
  // Reconnect quickly after a peer restarts; the defaults back off to 120 s.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // gRPC also takes this as the time one connection attempt may last (TCP
  // connect and TLS handshake): 100 ms failed TLS handshakes on a loaded
  // machine ("Handshake timed out"), so it matches the longest backoff.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ProcessTransportSecurity()->ChannelCredentials(address, expected_identity, args);
  if (!credentials.ok()) return RefusedChannel(address, credentials.status());
  return grpc::CreateCustomChannel(address, *credentials, args);
}

absl::Status AddListeningPort(grpc::ServerBuilder& builder, const std::string& listen, int* port) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ProcessTransportSecurity()->ServerCredentials(listen);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(listen, *credentials, port);
  return absl::OkStatus();
}

void ConfigureServerBuilder(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients ping every 5 s (MakeChannel); never count those as abuse.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

absl::Status ValidateHostPort(absl::string_view address, bool allow_port_zero) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" is not HOST:PORT"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < (allow_port_zero ? 0 : 1) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\" has no valid port (1..65535)"));
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper
