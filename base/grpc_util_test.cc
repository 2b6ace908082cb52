#include "base/grpc_util.h"

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
