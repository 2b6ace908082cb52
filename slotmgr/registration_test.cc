// What agents find on disk, as the coordinator takes it: users are assigned
// to a store once and never moved by a later report.
#include <gtest/gtest.h>

#include <string>

#include "proto/event_kinds.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::MakeInventory;

v1::SlotContents Contents(const std::string& slot, const std::string& store,
                          std::initializer_list<const char*> users) {
  v1::SlotContents c;
  c.set_slot(slot);
  c.set_store(store);
  for (const char* u : users) c.add_users(u);
  return c;
}

class RegistrationTest : public testing::CoordinatorFixture {};

TEST_F(RegistrationTest, AUserOnceAssignedIsNeverMovedByAReport) {
  v1::HostInventory a = MakeInventory("imap1");
  *a.add_contents() = Contents("s01", "store-a", {"alice", "bob"});
  RegisterHost(a);
  ASSERT_EQ(coord_->queries().LookupUser("alice")->store(), "store-a");

  // Another host reports a slot of store-b that holds a directory "alice"
  // (stray, or planted to redirect her mail).
  v1::HostInventory b = MakeInventory("imap2");
  *b.add_contents() = Contents("s01", "store-b", {"alice", "carol"});
  RegisterHost(b);
  v1::HealthReport report;
  report.set_agent_time_ms(clock_.NowMs());
  *report.add_contents() = Contents("s01", "store-b", {"alice", "carol"});
  ASSERT_TRUE(coord_->ApplyReport("imap2", sessions_["imap2"], report).ok());

  EXPECT_EQ(coord_->queries().LookupUser("alice")->store(), "store-a");
  EXPECT_EQ(coord_->queries().LookupUser("carol")->store(), "store-b");
  // Named once, as a warning, however often it is reported.
  ASSERT_TRUE(coord_->ApplyReport("imap2", sessions_["imap2"], report).ok());
  v1::ListEventsRequest req;
  req.set_kind(event_kind::kSlotContentsMismatch);
  auto events = coord_->queries().ListEvents(req);
  ASSERT_TRUE(events.ok());
  int conflicts = 0;
  for (const v1::Event& e : events->events()) {
    if (e.text().find("belong to another store (alice)") != std::string::npos) ++conflicts;
  }
  EXPECT_EQ(conflicts, 1);
}

TEST_F(RegistrationTest, MalformedUserNamesAreNotIndexed) {
  v1::HostInventory a = MakeInventory("imap1");
  *a.add_contents() = Contents("s01", "store-a", {"alice", "bad name", "-x"});
  RegisterHost(a);
  EXPECT_TRUE(coord_->queries().LookupUser("alice").ok());
  EXPECT_FALSE(coord_->queries().LookupUser("bad name").ok());
  EXPECT_FALSE(coord_->queries().LookupUser("-x").ok());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
