#include "replicator/sync/peer_authorizer.h"

#include <gtest/gtest.h>

namespace slotkeeper::sync {
namespace {

v1::PeerGrants Grants(const std::string& slot, std::initializer_list<const char*> hosts) {
  v1::PeerGrants g;
  v1::SlotGrant* s = g.add_slots();
  s->set_slot(slot);
  for (const char* h : hosts) s->add_hosts(h);
  return g;
}

TEST(PeerAuthorizerTest, OnlyGrantedHostsAndTheCoordinatorRead) {
  PeerAuthorizer auth(/*anonymous_allowed=*/false, {"slotmgr"});
  // Before any grant: nobody but the coordinator.
  EXPECT_EQ(auth.Check("imap2", "s1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(auth.Check("slotmgr", "s1").ok());
  auth.Update(Grants("s1", {"imap1", "imap2"}));
  EXPECT_TRUE(auth.Check("imap2", "s1").ok());
  absl::Status denied = auth.Check("imap4", "s1");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("slot s1"), absl::string_view::npos) << denied;
  EXPECT_NE(denied.message().find("imap4"), absl::string_view::npos) << denied;
  EXPECT_FALSE(auth.Check("imap2", "s2").ok()) << "a grant is for its slot only";
  EXPECT_FALSE(auth.Check("admin", "s1").ok()) << "operators do not read mail";
  EXPECT_FALSE(auth.Check("", "s1").ok());
  // A new grant replaces the old one.
  auth.Update(Grants("s1", {"imap3"}));
  EXPECT_FALSE(auth.Check("imap2", "s1").ok());
  EXPECT_TRUE(auth.Check("imap3", "s1").ok());
}

TEST(PeerAuthorizerTest, AnonymousOnlyWhenPlaintextOnLoopback) {
  PeerAuthorizer plaintext(/*anonymous_allowed=*/true, {});
  EXPECT_TRUE(plaintext.Check("", "s1").ok());
  EXPECT_FALSE(plaintext.Check("imap9", "s1").ok());
}

}  // namespace
}  // namespace slotkeeper::sync
