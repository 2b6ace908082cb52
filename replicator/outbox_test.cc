// The Outbox on a FakeClock: a report due at once in a new session and at
// each heartbeat, the ping echo with its hold time, acks kept (the oldest
// dropped) and the newest update per task across sessions, a closed outbox
// waking its writer.
#include "replicator/outbox.h"

#include <thread>

#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

v1::CommandAck Ack(const std::string& id) {
  v1::CommandAck ack;
  ack.set_command_id(id);
  return ack;
}

v1::TaskUpdate Update(const std::string& task, uint64_t files) {
  v1::TaskUpdate u;
  u.set_task_id(task);
  u.mutable_progress()->set_files_done(files);
  return u;
}

TEST(OutboxTest, ASessionStartsWithAReportAndThenOneAtEachHeartbeat) {
  FakeClock clock;
  Outbox outbox(&clock);
  outbox.Open();
  const absl::Duration later = clock.Monotonic() + absl::Seconds(1);
  std::optional<Outbox::Batch> b = outbox.Next(later);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->report.has_value());
  EXPECT_EQ(b->report->report_id, 1u);
  EXPECT_EQ(b->report->echo_coordinator_time_ms, 0);  // no ping yet
  // The heartbeat has come: a report although nothing changed.
  clock.Advance(absl::Seconds(1));
  b = outbox.Next(later);
  ASSERT_TRUE(b.has_value() && b->report.has_value());
  EXPECT_EQ(b->report->report_id, 2u);
  // A change makes one due before the heartbeat.
  outbox.NotifyChanged();
  b = outbox.Next(clock.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value() && b->report.has_value());
  EXPECT_EQ(b->report->report_id, 3u);
}

TEST(OutboxTest, AReportEchoesTheNewestPingWithHowLongItWasHeld) {
  FakeClock clock;
  Outbox outbox(&clock);
  outbox.Open();
  outbox.NotePing(800);
  outbox.NotePing(900);
  clock.Advance(absl::Milliseconds(40));
  std::optional<Outbox::Batch> b = outbox.Next(clock.Monotonic());
  ASSERT_TRUE(b.has_value() && b->report.has_value());
  EXPECT_EQ(b->report->echo_coordinator_time_ms, 900);
  EXPECT_EQ(b->report->echo_held_ms, 40);
}

TEST(OutboxTest, AcksAndTheNewestTaskUpdatesWaitForTheNextSession) {
  FakeClock clock;
  Outbox outbox(&clock);
  for (size_t i = 0; i < Outbox::kMaxPendingAcks + 5; ++i) {
    outbox.AddAck(Ack("c" + std::to_string(i)));
  }
  outbox.AddTaskUpdate(Update("t1", 1));
  outbox.AddTaskUpdate(Update("t1", 7));
  outbox.AddTaskUpdate(Update("t2", 3));
  EXPECT_FALSE(outbox.Next(clock.Monotonic()).has_value());  // no session
  outbox.Open();
  std::optional<Outbox::Batch> b = outbox.Next(clock.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->acks.size(), Outbox::kMaxPendingAcks);
  EXPECT_EQ(b->acks.front().command_id(), "c5");  // the oldest were dropped
  ASSERT_EQ(b->tasks.size(), 2u);
  EXPECT_EQ(b->tasks["t1"].progress().files_done(), 7u);
  // Taken: the next batch has none of them. An ack brings a report (the
  // command may have changed roles or leases); a task update does not.
  outbox.AddAck(Ack("c9999"));
  b = outbox.Next(clock.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->acks.size(), 1u);
  EXPECT_TRUE(b->tasks.empty());
  EXPECT_TRUE(b->report.has_value());
  outbox.AddTaskUpdate(Update("t3", 1));
  b = outbox.Next(clock.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->tasks.size(), 1u);
  EXPECT_FALSE(b->report.has_value());
}

TEST(OutboxTest, ClosingWakesAWriterWaitingForTheHeartbeat) {
  FakeClock clock;
  Outbox outbox(&clock);
  outbox.Open();
  ASSERT_TRUE(outbox.Next(clock.Monotonic()).has_value());  // the first report
  std::optional<Outbox::Batch> b = Outbox::Batch();
  // Without the close the writer would wait an hour (the test's timeout).
  std::thread writer([&] { b = outbox.Next(clock.Monotonic() + absl::Hours(1)); });
  outbox.Close();
  writer.join();
  EXPECT_FALSE(b.has_value());
}

}  // namespace
}  // namespace slotkeeper::replicator
