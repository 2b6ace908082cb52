#include "slotmgr/audit.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/automation.pb.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {
namespace {

TEST(AuditTest, ACallNamesTheCallerTheRequestWithItsReasonAndTheOutcome) {
  v1::FailoverRequest req;
  req.set_store("store-a");
  req.set_reason("disk replaced tonight");
  v1::Event e = AuditEvent("alice", "Failover", req, absl::OkStatus());
  EXPECT_EQ(e.kind(), event_kind::kAuditCall);
  EXPECT_EQ(e.severity(), v1::INFO);
  EXPECT_EQ(e.actor(), "alice");
  EXPECT_EQ(e.store(), "store-a");
  EXPECT_EQ(e.text(),
            "alice called Failover {store: \"store-a\" reason: \"disk replaced tonight\"}: OK");
}

TEST(AuditTest, AFailedCallKeepsItsError) {
  v1::DrainRequest req;
  req.set_host("imap7");
  v1::Event e = AuditEvent("bob", "Drain", req, absl::NotFoundError("no host imap7"));
  EXPECT_EQ(e.kind(), event_kind::kAuditCall);
  EXPECT_EQ(e.host(), "imap7");
  EXPECT_EQ(e.text(), "bob called Drain {host: \"imap7\"}: NOT_FOUND: no host imap7");
}

TEST(AuditTest, ARefusalIsAWarningOfItsOwnKind) {
  v1::MarkLostRequest req;
  req.set_host("imap7");
  req.set_unit("du2");
  v1::Event e = AuditEvent("imap-proxy-1", "MarkLost", req,
                           absl::PermissionDeniedError("MarkLost needs the admin role"));
  EXPECT_EQ(e.kind(), event_kind::kAuditDenied);
  EXPECT_EQ(e.severity(), v1::WARNING);
  EXPECT_EQ(e.unit(), "du2");
  EXPECT_EQ(e.actor(), "imap-proxy-1");
}

TEST(AuditTest, AHugeRequestIsCut) {
  v1::DrainRequest req;
  req.set_host("h");
  req.set_reason(std::string(1 << 20, 'x'));
  v1::Event e = AuditEvent("mallory", "Drain", req, absl::OkStatus());
  EXPECT_LT(e.text().size(), kMaxRequestText + 100);
  EXPECT_NE(e.text().find("... (cut)"), std::string::npos);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
