#include "slotmgr/state_store.h"

#include <cstdlib>
#include <filesystem>

#include "base/rocksdb_info_log.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

std::string Dir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string d = std::string(t != nullptr ? t : "/tmp") + "/" + name;
  std::system(("rm -rf " + d).c_str());
  return d;
}

v1::Event MakeEvent(uint64_t seq, int64_t time_ms, const std::string& store) {
  v1::Event e;
  e.set_seq(seq);
  e.set_time_ms(time_ms);
  e.set_kind("test");
  e.set_store(store);
  return e;
}

// Every open starts a new RocksDB info log; the store keeps only the last
// few (base/rocksdb_info_log.h), however often slotmgrd restarts.
TEST(StateStoreTest, InfoLogsAreBounded) {
  const std::string dir = Dir("info_logs");
  for (int i = 0; i < 8; ++i) {
    auto s = RocksStateStore::Open(dir);
    ASSERT_TRUE(s.ok()) << s.status();
  }
  size_t logs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name == "LOG" || name.rfind("LOG.old.", 0) == 0) ++logs;
  }
  EXPECT_EQ(logs, kCoordinatorInfoLog.keep_files);
}

TEST(StateStoreTest, BatchRoundTripsThroughReopen) {
  const std::string dir = Dir("roundtrip");
  {
    auto s = RocksStateStore::Open(dir);
    ASSERT_TRUE(s.ok()) << s.status();
    StateBatch b;
    HostRecord h;
    h.mutable_info()->set_name("imap1");
    h.set_session_id("imap1-1");
    b.PutHost(h);
    StoreRecord st;
    st.mutable_info()->set_name("st1");
    b.PutStore(st);
    StoredTask t;
    t.mutable_info()->set_id("t1");
    b.PutTask(t);
    OutboxEntry o;
    o.set_host("imap1");
    o.mutable_command()->set_id("c1");
    b.PutCommand(o);
    o.mutable_command()->set_id("c2");
    b.PutCommand(o);
    b.EraseCommand("c1");
    b.PutUser("alice", "st1");
    MetaRecord m;
    m.set_next_event_seq(7);
    b.PutMeta(m);
    b.AppendEvent(MakeEvent(6, 1000, "st1"));
    ASSERT_TRUE((*s)->Commit(b).ok());
  }
  auto s = RocksStateStore::Open(dir);
  ASSERT_TRUE(s.ok());
  auto snap = (*s)->Load();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->hosts.size(), 1u);
  EXPECT_EQ(snap->hosts[0].session_id(), "imap1-1");
  EXPECT_EQ(snap->stores.size(), 1u);
  EXPECT_EQ(snap->tasks.size(), 1u);
  ASSERT_EQ(snap->outbox.size(), 1u);
  EXPECT_EQ(snap->outbox[0].command().id(), "c2");
  EXPECT_EQ(snap->users.at("alice"), "st1");
  EXPECT_EQ(snap->meta.next_event_seq(), 7u);
  EXPECT_FALSE(snap->automation.has_value());
}

TEST(StateStoreTest, RefusesNewerSchema) {
  const std::string dir = Dir("schema");
  {
    auto s = RocksStateStore::Open(dir);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->PutRawForTest("meta/schema", std::to_string(kSchemaVersion + 1)).ok());
  }
  auto s = RocksStateStore::Open(dir);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status();
}

TEST(StateStoreTest, EventsBySequenceAndTime) {
  auto s = RocksStateStore::Open(Dir("events"));
  ASSERT_TRUE(s.ok());
  StateBatch b;
  for (uint64_t i = 1; i <= 10; ++i) b.AppendEvent(MakeEvent(i, 1000 * i, i % 2 ? "odd" : "even"));
  ASSERT_TRUE((*s)->Commit(b).ok());
  EventQuery q;
  q.after_seq = 7;
  auto e = (*s)->ReadEvents(q);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].seq(), 8u);
  q = EventQuery();
  q.since_ms = 3000;
  q.until_ms = 6000;
  q.store = "even";
  e = (*s)->ReadEvents(q);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].seq(), 4u);
  EXPECT_EQ((*e)[1].seq(), 6u);
  q = EventQuery();
  q.limit = 2;
  e = (*s)->ReadEvents(q);
  EXPECT_EQ(e->size(), 2u);
}

std::vector<uint64_t> Seqs(const EventPage& page) {
  std::vector<uint64_t> out;
  for (const v1::Event& e : page.events) out.push_back(e.seq());
  return out;
}

TEST(StateStoreTest, EventPagesNewestFirstBeforeAndAfterWithWhatRemains) {
  auto s = RocksStateStore::Open(Dir("event_pages"));
  ASSERT_TRUE(s.ok());
  StateBatch b;
  for (uint64_t i = 1; i <= 10; ++i) b.AppendEvent(MakeEvent(i, 1000 * i, i % 2 ? "odd" : "even"));
  ASSERT_TRUE((*s)->Commit(b).ok());
  EventQuery q;
  q.limit = 3;
  q.newest_first = true;
  absl::StatusOr<EventPage> p = (*s)->ReadEventPage(q);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{10, 9, 8}));
  EXPECT_EQ(p->remaining, 7u);
  q.before_seq = 8;  // the next page back
  p = (*s)->ReadEventPage(q);
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{7, 6, 5}));
  EXPECT_EQ(p->remaining, 4u);
  q.after_seq = 5;  // between: 6 and 7 only
  p = (*s)->ReadEventPage(q);
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{7, 6}));
  EXPECT_EQ(p->remaining, 0u);
  // Oldest first after a seq: the next page forward.
  q = EventQuery();
  q.limit = 2;
  q.after_seq = 6;
  p = (*s)->ReadEventPage(q);
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(p->remaining, 2u);
  // By time, newest first, with a filter: evens from 3 s to 9 s.
  q = EventQuery();
  q.limit = 2;
  q.newest_first = true;
  q.since_ms = 3000;
  q.until_ms = 9000;
  q.store = "even";
  p = (*s)->ReadEventPage(q);
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{8, 6}));
  EXPECT_EQ(p->remaining, 1u);
  // Oldest first by time keeps the chronological order and counts the rest.
  q.newest_first = false;
  p = (*s)->ReadEventPage(q);
  EXPECT_EQ(Seqs(*p), (std::vector<uint64_t>{4, 6}));
  EXPECT_EQ(p->remaining, 1u);
}

TEST(StateStoreTest, SecondOpenOfSameDirectoryIsUnavailable) {
  const std::string dir = Dir("locked");
  auto a = RocksStateStore::Open(dir);
  ASSERT_TRUE(a.ok());
  auto b = RocksStateStore::Open(dir);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
