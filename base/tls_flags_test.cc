#include "base/tls_flags.h"

#include <gtest/gtest.h>

namespace slotkeeper {
namespace {

TEST(TlsFlagsTest, NeitherChoiceIsRefusedNamingTheFlagsToGive) {
  absl::StatusOr<std::shared_ptr<TransportSecurity>> s = ChooseTransportSecurity({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* flag : {"--tls_ca", "--tls_cert", "--tls_key", "--insecure_loopback_only"}) {
    EXPECT_NE(s.status().message().find(flag), absl::string_view::npos) << s.status();
  }
}

TEST(TlsFlagsTest, BothChoicesOrSomeFilesAreRefused) {
  TransportChoice both;
  both.insecure_loopback_only = true;
  both.files.ca = "/etc/ca.pem";
  EXPECT_FALSE(ChooseTransportSecurity(both).ok());
  TransportChoice some;
  some.files.ca = "/etc/ca.pem";
  some.files.cert = "/etc/cert.pem";
  absl::StatusOr<std::shared_ptr<TransportSecurity>> s = ChooseTransportSecurity(some, "tls.");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("tls.tls_key"), absl::string_view::npos) << s.status();
}

TEST(TlsFlagsTest, InsecureLoopbackOnlyIsPlaintext) {
  TransportChoice choice;
  choice.insecure_loopback_only = true;
  absl::StatusOr<std::shared_ptr<TransportSecurity>> s = ChooseTransportSecurity(choice);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE((*s)->is_tls());
}

}  // namespace
}  // namespace slotkeeper
