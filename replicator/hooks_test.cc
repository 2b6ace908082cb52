#include "replicator/hooks.h"

#include <signal.h>
#include <stdlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::HasSubstr;

HookContext Context() { return {"promote", "st1", "s01", "/srv/du1/s01", 7}; }

TEST(HooksTest, EmptyCommandDoesNothing) {
  HookResult r = RunHook("", Context(), absl::Seconds(5));
  EXPECT_FALSE(r.ran);
  EXPECT_TRUE(r.status.ok());
}

TEST(HooksTest, TrueSucceedsFalseFails) {
  EXPECT_TRUE(RunHook("true", Context(), absl::Seconds(5)).status.ok());
  HookResult r = RunHook("echo refusing >&2; exit 3", Context(), absl::Seconds(5));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(r.status.message(), HasSubstr("status 3"));
  EXPECT_EQ(r.output_tail, "refusing\n");
}

TEST(HooksTest, EnvironmentNamesStoreSlotPathEpochAndAction) {
  HookResult r = RunHook(
      "echo $SLOTKEEPER_ACTION $SLOTKEEPER_STORE $SLOTKEEPER_SLOT $SLOTKEEPER_SLOT_PATH "
      "$SLOTKEEPER_EPOCH",
      Context(), absl::Seconds(5));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.output_tail, "promote st1 s01 /srv/du1/s01 7\n");
}

// replicatord ignores SIGPIPE, which would pass through exec to the hook and
// the mail server it starts; and systemd's variables are the agent's alone.
TEST(HooksTest, HooksGetDefaultSigpipeAndNoServiceVariables) {
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  HookResult r =
      RunHook("awk '/^SigIgn:/ {print $1, $2}' /proc/self/status; echo \"socket=$NOTIFY_SOCKET\"",
              Context(), absl::Seconds(5));
  unsetenv("NOTIFY_SOCKET");
  signal(SIGPIPE, old_pipe);
  ASSERT_TRUE(r.status.ok()) << r.status;
  // SIGPIPE is signal 13: bit 12 of the mask, in its fourth hex digit from the right.
  EXPECT_THAT(r.output_tail, HasSubstr("SigIgn: "));
  EXPECT_THAT(r.output_tail,
              ::testing::Not(::testing::ContainsRegex("SigIgn: [0-9a-f]*[13579bdf][0-9a-f]{3}\n")));
  EXPECT_THAT(r.output_tail, HasSubstr("socket=\n"));
}

TEST(HooksTest, TimeoutKillsTheWholeProcessGroup) {
  // The background sleep holds the output pipe open: only killing the group
  // ends the hook.
  HookResult r = RunHook("echo started; sleep 30 & sleep 30", Context(), absl::Milliseconds(300));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.output_tail, "started\n");
}

TEST(HooksTest, TimeoutHoldsWhenTheHookClosesItsOutput) {
  // A hook that closes stdout and stderr and hangs: the pipe reaches EOF at
  // once, but the hook must still be killed at its deadline (had it been
  // waited for, it would have exited 0 after 30 s).
  HookResult r =
      RunHook("echo closing; exec >/dev/null 2>&1; sleep 30", Context(), absl::Milliseconds(300));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.output_tail, "closing\n");
}

TEST(HooksTest, DaemonLeftHoldingThePipeDoesNotHoldTheHook) {
  // The shell exits at once; the daemon it leaves keeps the pipe open. The
  // hook is done when the shell is, and succeeds.
  HookResult r = RunHook("echo started; (sleep 3 &) ; exit 0", Context(), absl::Seconds(10));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.output_tail, "started\n");
}

TEST(HooksTest, KeepsOnlyTheTailOfLongOutput) {
  HookResult r = RunHook("seq 1 20000", Context(), absl::Seconds(10));
  ASSERT_TRUE(r.status.ok());
  EXPECT_LE(r.output_tail.size(), 4096u);
  EXPECT_THAT(r.output_tail, HasSubstr("\n20000\n"));
}

}  // namespace
}  // namespace slotkeeper::replicator
