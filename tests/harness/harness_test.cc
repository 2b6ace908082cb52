// Tests of the harness itself: processes are started, signalled and reaped;
// a loop-mounted ext4 really turns read-only and really fails I/O.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "tests/harness/loop_fs.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

std::string TempDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d ? d : "/tmp";
}

TEST(ProcessTest, CapturesOutputAndExitCode) {
  Process p;
  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "echo slotmgrd listening on 127.0.0.1:4242; exit 3"},
                      TempDir() + "/p1.log")
                  .ok());
  auto line = p.WaitForLogLine("listening on", absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  auto addr = AddressFromLogLine(*line);
  ASSERT_TRUE(addr.ok());
  EXPECT_EQ(*addr, "127.0.0.1:4242");
  auto code = p.Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3);
}

TEST(ProcessTest, StopAndKillTheWholeGroup) {
  Process p;
  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "sleep 100 & sleep 100"}, TempDir() + "/p2.log").ok());
  ASSERT_TRUE(p.Signal(SIGSTOP).ok());
  ASSERT_TRUE(p.Signal(SIGCONT).ok());
  EXPECT_EQ(p.Stop(absl::Seconds(5)), 128 + SIGTERM);
  EXPECT_FALSE(p.running());
}

TEST(ProcessTest, RunCommandReportsExitCode) {
  std::string out;
  auto code = RunCommand({"/bin/sh", "-c", "echo hi; exit 7"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(out, "hi\n");
}

TEST(LoopFilesystemTest, ReadOnlyRemountAndShutdownAreReal) {
  absl::Status can = CanLoopMount();
  if (!can.ok()) GTEST_SKIP() << "cannot loop-mount here: " << can;
  auto fs = LoopFilesystem::Create(TempDir() + "/fs.img", TempDir() + "/mnt", 32 << 20);
  ASSERT_TRUE(fs.ok()) << fs.status();
  const std::string file = (*fs)->mount_point() + "/f";
  { std::ofstream(file) << "mail"; }

  ASSERT_TRUE((*fs)->RemountReadOnly().ok());
  int fd = open(((*fs)->mount_point() + "/g").c_str(), O_WRONLY | O_CREAT, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  ASSERT_TRUE((*fs)->RemountReadWrite().ok());
  fd = open(((*fs)->mount_point() + "/g").c_str(), O_WRONLY | O_CREAT, 0644);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);

  ASSERT_TRUE((*fs)->Shutdown().ok());
  fd = open(((*fs)->mount_point() + "/h").c_str(), O_WRONLY | O_CREAT, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EIO);
}

}  // namespace
}  // namespace slotkeeper::testing
