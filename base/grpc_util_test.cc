#include "base/grpc_util.h"

#include <grpcpp/generic/async_generic_service.h>
#include <gtest/gtest.h>

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
  builder.AddListeningPort(address, ServerCredentials(), &out.port);
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

}  // namespace
}  // namespace slotkeeper
