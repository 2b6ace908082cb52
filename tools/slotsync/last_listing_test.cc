#include "tools/slotsync/last_listing.h"

#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/state_db.h"

namespace slotkeeper::slotsync {
namespace {

TEST(LastListingTest, DigestFollowsEveryGenerationAndTheRecordRoundTrips) {
  v1::ListUsersResponse a;
  a.set_instance_id("inst-1");
  for (const char* u : {"alice", "bob"}) {
    v1::UserSummary* s = a.add_users();
    s->set_user(u);
    s->set_generation(7);
  }
  v1::ListUsersResponse b = a;
  EXPECT_EQ(ListingDigest(a, "id-1"), ListingDigest(b, "id-1"));
  b.mutable_users(1)->set_generation(8);
  EXPECT_NE(ListingDigest(a, "id-1"), ListingDigest(b, "id-1"));
  b = a;
  b.set_instance_id("inst-2");
  EXPECT_NE(ListingDigest(a, "id-1"), ListingDigest(b, "id-1"));
  b = a;
  b.add_users()->set_user("carol");
  EXPECT_NE(ListingDigest(a, "id-1"), ListingDigest(b, "id-1"));
  // The same listing, another copy at the destination (emptied, replaced).
  EXPECT_NE(ListingDigest(a, "id-1"), ListingDigest(a, "id-2"));

  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/last_listing";
  mkdir(dir.c_str(), 0755);
  EXPECT_EQ(ReadLastListing(dir), "");
  ASSERT_TRUE(WriteLastListing(dir, ListingDigest(a, "id-1")).ok());
  EXPECT_EQ(ReadLastListing(dir), ListingDigest(a, "id-1"));
  ASSERT_TRUE(ClearLastListing(dir).ok());
  EXPECT_EQ(ReadLastListing(dir), "");
  EXPECT_TRUE(ClearLastListing(dir).ok());  // nothing to clear is fine
}

TEST(LastListingTest, AllUsersAtCheckpointReadsTheDatabaseReadOnly) {
  v1::ListUsersResponse listed;
  listed.set_instance_id("inst-1");
  for (const char* u : {"alice", "bob"}) {
    v1::UserSummary* s = listed.add_users();
    s->set_user(u);
    s->set_generation(7);
  }
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/checkpoints";
  EXPECT_TRUE(absl::IsNotFound(OpenStateDbReadOnly(dir).status()));
  {
    absl::StatusOr<std::unique_ptr<rocksdb::DB>> db = sync::OpenStateDb(dir);
    ASSERT_TRUE(db.ok()) << db.status();
    sync::CheckpointStore checkpoints(db->get());
    ASSERT_TRUE(checkpoints.Put("dest", "alice", {"inst-1", 7, "src", "id-1"}).ok());
  }
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> ro = OpenStateDbReadOnly(dir);
  ASSERT_TRUE(ro.ok()) << ro.status();
  sync::CheckpointStore checkpoints(ro->get());
  uint64_t users = 0;
  EXPECT_FALSE(AllUsersAtCheckpoint(listed, "dest", "src", "id-1", "", &checkpoints, &users));
  EXPECT_TRUE(AllUsersAtCheckpoint(listed, "dest", "src", "id-1", "alice", &checkpoints, &users));
  EXPECT_EQ(users, 1u);
  EXPECT_FALSE(AllUsersAtCheckpoint(listed, "dest", "src", "id-1", "carol", &checkpoints, &users));
  EXPECT_EQ(users, 0u);
  // Another copy at the destination (emptied, replaced) or another source
  // slot: the checkpoint says nothing about it.
  EXPECT_FALSE(AllUsersAtCheckpoint(listed, "dest", "src", "id-2", "alice", &checkpoints, &users));
  EXPECT_FALSE(
      AllUsersAtCheckpoint(listed, "dest", "other", "id-1", "alice", &checkpoints, &users));
  listed.set_instance_id("inst-2");  // a restarted source: generations restart
  EXPECT_FALSE(AllUsersAtCheckpoint(listed, "dest", "src", "id-1", "alice", &checkpoints, &users));
}

}  // namespace
}  // namespace slotkeeper::slotsync
