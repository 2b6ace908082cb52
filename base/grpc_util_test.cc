#include "base/grpc_util.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "base/tls.h"

namespace slotkeeper {
namespace {

TEST(GrpcUtilTest, StatusRoundTripsKeepCodeAndMessage) {
  absl::Status s = absl::FailedPreconditionError("host imap4 is draining");
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(g.error_message(), "host imap4 is draining");
  EXPECT_EQ(FromGrpcStatus(g), s);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(GrpcUtilTest, ValidateHostPort) {
  EXPECT_TRUE(ValidateHostPort("127.0.0.1:7300").ok());
  EXPECT_TRUE(ValidateHostPort("[::1]:7300").ok());
  EXPECT_TRUE(ValidateHostPort("127.0.0.1:0", /*allow_port_zero=*/true).ok());
  EXPECT_FALSE(ValidateHostPort("127.0.0.1:0").ok());
  EXPECT_FALSE(ValidateHostPort("127.0.0.1").ok());
  EXPECT_FALSE(ValidateHostPort(":7300").ok());
  EXPECT_FALSE(ValidateHostPort("host:99999").ok());
  absl::Status bad = ValidateHostPort("nonsense");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("nonsense"), absl::string_view::npos);
}

}  // namespace
}  // namespace slotkeeper

namespace slotkeeper {
namespace {

struct Served {
  std::unique_ptr<grpc::CallbackGenericService> service;  // a server needs one
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Served Serve(const std::string& address) {
  Served out;
  out.service = std::make_unique<grpc::CallbackGenericService>();
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(out.service.get());
  ConfigureServerBuilder(builder);
  EXPECT_TRUE(AddListeningPort(builder, address, &out.port).ok());
  out.server = builder.BuildAndStart();
  return out;
}

TEST(GrpcUtilTest, ASecondServerOnTheSameAddressFailsToStart) {
  Served first = Serve("127.0.0.1:0");
  ASSERT_NE(first.server, nullptr);
  ASSERT_GT(first.port, 0);
  Served second = Serve("127.0.0.1:" + std::to_string(first.port));
  EXPECT_TRUE(second.server == nullptr || second.port == 0)
      << "two servers share port " << first.port << " (SO_REUSEPORT left on)";
  first.server->Shutdown();
}

// The process default is plaintext, loopback only: a server on another
// address is refused before it binds, and a channel to one fails every call
// with the reason, naming the address.
TEST(GrpcUtilTest, PlaintextRefusesNonLoopbackListenAndDialAddresses) {
  ASSERT_FALSE(ProcessTransportSecurity()->is_tls());
  grpc::ServerBuilder builder;
  int port = 0;
  absl::Status listen = AddListeningPort(builder, "0.0.0.0:0", &port);
  EXPECT_EQ(listen.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(listen.message().find("0.0.0.0:0"), absl::string_view::npos) << listen;

  std::shared_ptr<grpc::Channel> channel = MakeChannel("192.0.2.1:7300");
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice ping("ping");
  grpc::ByteBuffer request(&ping, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/any.Service/Method", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("192.0.2.1:7300"), std::string::npos)
      << status.error_message();
}

}  // namespace
}  // namespace slotkeeper
