#include "slotmgr/peer_grants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

void AddCopy(ClusterModel& m, const std::string& store, const std::string& host,
             const std::string& slot, v1::SlotRole role) {
  v1::StoreInfo& info = *m.stores[store].mutable_info();
  info.set_name(store);
  v1::Copy* c = info.add_copies();
  c->mutable_slot()->set_host(host);
  c->mutable_slot()->set_slot(slot);
  c->set_role(role);
}

void AddTask(ClusterModel& m, const std::string& id, const std::string& store,
             const std::string& source, const std::string& target, v1::TaskState state) {
  v1::TaskInfo& t = *m.tasks[id].mutable_info();
  t.set_id(id);
  t.set_store(store);
  t.set_state(state);
  t.mutable_source()->set_host(source.substr(0, source.find('/')));
  t.mutable_source()->set_slot(source.substr(source.find('/') + 1));
  t.mutable_target()->set_host(target.substr(0, target.find('/')));
  t.mutable_target()->set_slot(target.substr(target.find('/') + 1));
}

std::map<std::string, std::vector<std::string>> Table(const v1::PeerGrants& g) {
  std::map<std::string, std::vector<std::string>> out;
  for (const v1::SlotGrant& s : g.slots()) out[s.slot()] = {s.hosts().begin(), s.hosts().end()};
  return out;
}

TEST(PeerGrantsTest, CopiesOfTheStoreAndTargetsOfItsUnfinishedTasks) {
  ClusterModel m;
  AddCopy(m, "st1", "imap1", "s1", v1::SLOT_MASTER);
  AddCopy(m, "st1", "imap2", "s1", v1::SLOT_REPLICA);
  AddCopy(m, "st2", "imap3", "s4", v1::SLOT_MASTER);
  AddCopy(m, "st2", "imap1", "s2", v1::SLOT_REPLICA);
  AddTask(m, "t1", "st1", "imap1/s1", "imap4/s7", v1::TASK_RUNNING);
  AddTask(m, "t2", "st2", "imap3/s4", "imap5/s1", v1::TASK_DONE);

  auto imap1 = Table(PeerGrantsFor(m, "imap1"));
  EXPECT_THAT(imap1["s1"], ElementsAre("imap1", "imap2", "imap4"));
  // st2's finished task grants imap5 nothing.
  EXPECT_THAT(imap1["s2"], ElementsAre("imap1", "imap3"));
  EXPECT_EQ(imap1.size(), 2u);
  // A host with no copy has no grants: its slots are read by nobody.
  EXPECT_THAT(PeerGrantsFor(m, "imap5").slots(), IsEmpty());
}

TEST(PeerGrantsTest, ATaskSourceThatIsNoLongerACopyIsStillReadByItsTarget) {
  ClusterModel m;
  AddCopy(m, "st1", "imap2", "s1", v1::SLOT_MASTER);
  AddTask(m, "t1", "st1", "imap1/s3", "imap2/s1", v1::TASK_BACKOFF);
  EXPECT_THAT(Table(PeerGrantsFor(m, "imap1"))["s3"], ElementsAre("imap2"));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
