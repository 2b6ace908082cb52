// CommandRunner with scripted handlers: commands carried out one at a time
// in order, each ack in the outbox with a report due; a fenced lease makes
// a report due; Stop ends both threads while they wait.
#include "replicator/command_runner.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

v1::Command Command(const std::string& id) {
  v1::Command c;
  c.set_id(id);
  return c;
}

class CommandRunnerTest : public ::testing::Test {
 protected:
  CommandRunnerTest() : outbox_(&clock_) {
    CommandRunnerDeps deps;
    deps.handle = [this](const v1::Command& command) {
      absl::MutexLock lock(&mu_);
      // One at a time: no other command is being carried out.
      EXPECT_EQ(running_++, 0);
      handled_.push_back(command.id());
      mu_.Await(absl::Condition(&release_));
      --running_;
      v1::CommandAck ack;
      ack.set_command_id(command.id());
      ack.set_ok(true);
      return ack;
    };
    deps.fence_expired = [this]() { return fence_.exchange(false); };
    deps.next_expiry = []() { return absl::Hours(1); };
    deps.outbox = &outbox_;
    runner_ = std::make_unique<CommandRunner>(std::move(deps));
    outbox_.Open();
    // The session's first report.
    EXPECT_TRUE(outbox_.Next(clock_.Monotonic()).has_value());
  }

  FakeClock clock_;
  Outbox outbox_;
  absl::Mutex mu_;
  bool release_ ABSL_GUARDED_BY(mu_) = true;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> handled_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> fence_{false};
  std::unique_ptr<CommandRunner> runner_;
};

TEST_F(CommandRunnerTest, CommandsAreCarriedOutInOrderAndAckedWithAReport) {
  {
    absl::MutexLock lock(&mu_);
    release_ = false;  // the first command's hook blocks
  }
  runner_->Start();
  runner_->Enqueue(Command("c1"));
  runner_->Enqueue(Command("c2"));
  runner_->Enqueue(Command("c3"));
  {
    absl::MutexLock lock(&mu_);
    auto first = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return handled_.size() == 1u; };
    mu_.Await(absl::Condition(&first));
    release_ = true;
  }
  std::vector<std::string> acked;
  while (acked.size() < 3) {
    std::optional<Outbox::Batch> b = outbox_.Next(clock_.Monotonic() + absl::Hours(1));
    ASSERT_TRUE(b.has_value());
    for (const v1::CommandAck& ack : b->acks) acked.push_back(ack.command_id());
    // Roles and leases may have changed: a report goes with the acks.
    if (!b->acks.empty()) {
      EXPECT_TRUE(b->report.has_value());
    }
  }
  EXPECT_EQ(acked, (std::vector<std::string>{"c1", "c2", "c3"}));
  runner_->Stop();
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(handled_, acked);
}

TEST_F(CommandRunnerTest, AFencedLeaseMakesAReportDue) {
  runner_->Start();
  fence_ = true;
  std::optional<Outbox::Batch> b = outbox_.Next(clock_.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->report.has_value());
  EXPECT_TRUE(b->acks.empty());
  runner_->Stop();
}

// Both threads wait (for a command, for the next lease check): Stop wakes
// them; otherwise the test runs into its timeout.
TEST_F(CommandRunnerTest, StopEndsBothWaitingThreads) {
  runner_->Start();
  runner_->Enqueue(Command("c1"));
  std::optional<Outbox::Batch> b = outbox_.Next(clock_.Monotonic() + absl::Hours(1));
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->acks.size(), 1u);
  runner_->Stop();
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(handled_, std::vector<std::string>{"c1"});
}

}  // namespace
}  // namespace slotkeeper::replicator
