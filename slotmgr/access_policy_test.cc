#include "slotmgr/access_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace slotkeeper::slotmgr {
namespace {

constexpr char kPolicy[] =
    "# who may do what\n"
    "viewer   imap-proxy-1 imap-proxy-2\n"
    "operator alice   # on call\n"
    "\n"
    "admin\tbob\n";

TEST(AccessPolicyTest, RolesIncludeTheOnesBelow) {
  absl::StatusOr<AccessPolicy> p = AccessPolicy::Parse(kPolicy, "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->RoleOf("imap-proxy-2"), Role::kViewer);
  EXPECT_EQ(p->RoleOf("alice"), Role::kOperator);
  EXPECT_EQ(p->RoleOf("bob"), Role::kAdmin);
  EXPECT_TRUE(p->Authorize("bob", Role::kViewer, "ListHosts").ok());
  EXPECT_TRUE(p->Authorize("alice", Role::kOperator, "Drain").ok());
  EXPECT_TRUE(p->Authorize("imap-proxy-1", Role::kViewer, "LookupUser").ok());
}

TEST(AccessPolicyTest, RefusalNamesTheMethodTheRoleNeededAndTheCaller) {
  AccessPolicy p = *AccessPolicy::Parse(kPolicy, "policy");
  absl::Status st = p.Authorize("imap-proxy-1", Role::kOperator, "Drain");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "Drain needs the operator role; caller imap-proxy-1 holds viewer");
  st = p.Authorize("alice", Role::kAdmin, "MarkLost");
  EXPECT_EQ(st.message(), "MarkLost needs the admin role; caller alice holds operator");
}

TEST(AccessPolicyTest, UnlistedAndAnonymousCallersHoldNothing) {
  AccessPolicy p = *AccessPolicy::Parse(kPolicy, "policy");
  EXPECT_EQ(p.RoleOf("host-a"), Role::kNone);
  EXPECT_EQ(p.Authorize("host-a", Role::kViewer, "ListHosts").code(),
            absl::StatusCode::kPermissionDenied);
  absl::Status st = p.Authorize("", Role::kViewer, "ListHosts");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "ListHosts needs the viewer role; caller anonymous holds none");
}

TEST(AccessPolicyTest, AnAgentSpeaksOnlyForTheHostItsCertificateNames) {
  AccessPolicy p = *AccessPolicy::Parse(kPolicy, "policy");
  EXPECT_TRUE(p.AuthorizeHost("host-a", "host-a", "Register").ok());
  absl::Status st = p.AuthorizeHost("host-a", "host-b", "Register");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "Register for host host-b needs that host's certificate; caller is host-a");
  EXPECT_EQ(p.AuthorizeHost("", "host-b", "Register").code(), absl::StatusCode::kPermissionDenied);
  // An operator's certificate does not make its holder a host.
  EXPECT_EQ(p.AuthorizeHost("bob", "host-b", "Register").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, WithoutAPolicyFileAnonymousCallersAreAdminsOfAnyHost) {
  AccessPolicy p = AccessPolicy::Default();
  EXPECT_TRUE(p.trusts_anonymous());
  EXPECT_EQ(p.RoleOf(""), Role::kAdmin);
  EXPECT_TRUE(p.Authorize("", Role::kAdmin, "MarkLost").ok());
  EXPECT_TRUE(p.AuthorizeHost("", "host-b", "Register").ok());
  // A named caller is still judged by name (the policy lists nobody).
  EXPECT_EQ(p.RoleOf("someone"), Role::kNone);
  EXPECT_FALSE(AccessPolicy::Parse(kPolicy, "p")->trusts_anonymous());
}

TEST(AccessPolicyTest, MalformedFilesAreRefusedNamingTheLine) {
  absl::StatusOr<AccessPolicy> p = AccessPolicy::Parse("viewer a\nroot b\n", "/etc/policy");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(),
            "/etc/policy line 2: unknown role \"root\" (viewer, operator or admin)");
  p = AccessPolicy::Parse("admin\n", "f");
  EXPECT_EQ(p.status().message(), "f line 1: role admin names no identity");
  p = AccessPolicy::Parse("viewer a\nadmin a\n", "f");
  EXPECT_EQ(p.status().message(), "f line 2: identity a is given two roles (viewer and admin)");
  p = AccessPolicy::Parse("viewer a/b\n", "f");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("f line 1: identity"), absl::string_view::npos);
  p = AccessPolicy::Parse(std::string("viewer a\x01\n"), "f");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  p = AccessPolicy::Parse(std::string(AccessPolicy::kMaxFileBytes + 1, '#'), "f");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  // The same role twice is harmless.
  EXPECT_TRUE(AccessPolicy::Parse("viewer a\nviewer a\n", "f").ok());
}

TEST(AccessPolicyTest, LoadReportsAMissingFile) {
  absl::StatusOr<AccessPolicy> p = AccessPolicy::Load("/nonexistent/policy");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("/nonexistent/policy"), absl::string_view::npos);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
