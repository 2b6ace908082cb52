// End to end: the coordinator's status page in a real browser. A whole
// cluster (slotmgrd, four agents on loop-mounted ext4, mutual TLS) serves the
// page on its HTTP port; headless Chromium loads it, runs its JavaScript
// (fetch, render) and prints the resulting DOM, before and after the drive
// unit under a master is remounted read-only and the store fails over.
//
// Checks, in the DOM the page built from /api/status:
//   - before: the headline says mail is safe, the unit is online, the store's
//     master is on it;
//   - after: the unit is failed, the store's master is the copy the
//     coordinator promoted, the failover event is listed, the headline says
//     redundancy is reduced;
//   - an operator's reason shaped like markup (an <img onerror=...>) is shown
//     as text and never runs;
//   - a screenshot of each state is a real PNG (kept in the test outputs).
//
// Chromium talks only to 127.0.0.1 (tests/harness/headless_chromium.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/headless_chromium.h"

namespace slotkeeper::testing {
namespace {

// Runs in the page if the page ever inserted operator text as markup.
constexpr char kHostileReason[] =
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','yes')\">";

std::string OutputDir() {
  const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return out != nullptr ? out : std::getenv("TEST_TMPDIR");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The DOM after the page's JavaScript ran, and a screenshot in the outputs.
absl::StatusOr<std::string> LoadPage(const std::string& url, const std::string& name) {
  absl::StatusOr<std::string> dom = DumpDom(url);
  if (!dom.ok()) return dom.status();
  const std::string png = absl::StrCat(OutputDir(), "/status_page_", name, ".png");
  if (absl::Status st = Screenshot(url, png); !st.ok()) return st;
  std::fprintf(stderr, "screenshot: %s\n", png.c_str());
  return dom;
}

void ExpectPng(const std::string& name) {
  const std::string png = ReadFile(absl::StrCat(OutputDir(), "/status_page_", name, ".png"));
  ASSERT_GE(png.size(), 8u) << name << ": no screenshot";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name << ": not a PNG";
  // A blank 1400x1000 page compresses to a few KB; the rendered page with
  // its coloured grid and tables is well above.
  EXPECT_GT(png.size(), 20u * 1024) << name << ": the screenshot looks empty";
}

void ExpectHostileTextInert(const std::string& dom) {
  EXPECT_TRUE(absl::StrContains(dom, "&lt;img src=x onerror="))
      << "the operator's reason is not shown as text";
  EXPECT_FALSE(absl::StrContains(dom, "data-pwned=\"yes\"")) << "the operator's reason ran";
}

TEST(StatusPageBrowserTest, ShowsTheFailedUnitAndTheFailover) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) for a read-only remount: " << st;
  }
  ASSERT_TRUE(ChromiumAvailable().ok()) << ChromiumAvailable();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/status_page";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",   "--down_after=10s",
      "--failover_grace_hard=2s", "--failover_grace=60s", "--lease=4s",
      "--replace_after=10m",  // no re-replication: the failed unit stays in view
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.loop_mounted());
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores({{"st1", "imap4", "du2s1"}, {"st2", "imap1", "du1s1"}},
                                  /*users=*/4, /*messages=*/40);
  ASSERT_TRUE(reference.ok()) << reference.status();
  ASSERT_GT(c.coordinator_http_port(), 0);
  const std::string url = absl::StrCat("http://127.0.0.1:", c.coordinator_http_port(), "/");

  // An operator's reason in the journal, shaped like markup.
  std::string out;
  for (const char* verb : {"pause", "resume"}) {
    auto code = c.Slotctl({"automation", verb, "--reason", kHostileReason}, &out);
    ASSERT_TRUE(code.ok() && *code == 0) << "automation " << verb << ": " << out;
  }

  auto before = LoadPage(url, "before");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_NE(StartTagWith(*before, "data-loaded", "yes"), "")
      << "the page never rendered /api/status:\n"
      << before->substr(0, 3000);
  EXPECT_NE(StartTagWith(*before, "data-safety", "safe"), "")
      << StartTagWith(*before, "id", "headline");
  EXPECT_TRUE(absl::StrContains(StartTagWith(*before, "data-unit", "imap4/du2"), "UNIT_ONLINE"))
      << StartTagWith(*before, "data-unit", "imap4/du2");
  EXPECT_TRUE(
      absl::StrContains(StartTagWith(*before, "data-store", "st1"), "data-master=\"imap4/du2s1\""))
      << StartTagWith(*before, "data-store", "st1");
  ExpectHostileTextInert(*before);
  ExpectPng("before");

  // The unit under st1's master turns read-only; wait for the failover.
  LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2");
  ASSERT_NE(fs, nullptr);
  ASSERT_TRUE(RemountReadOnlyRetrying(*fs).ok());
  c.Log(absl::StrCat("remounted ", fs->mount_point(), " read-only"));
  std::string new_master;
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [&](const v1::StoreInfo& s) {
                     new_master = MasterOf(s);
                     return !new_master.empty() && new_master != "imap4/du2s1";
                   },
                   absl::Seconds(90), "st1 failed over off imap4/du2s1")
                  .ok());
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     for (const auto& h : s.troubled_hosts()) {
                       for (const auto& u : h.units()) {
                         if (h.name() == "imap4" && u.name() == "du2") {
                           return u.state() == v1::UNIT_FAILED;
                         }
                       }
                     }
                     return false;
                   },
                   absl::Seconds(30), "imap4/du2 failed")
                  .ok());
  c.Log(absl::StrCat("st1 failed over to ", new_master));

  auto after = LoadPage(url, "after");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_NE(StartTagWith(*after, "data-loaded", "yes"), "") << after->substr(0, 3000);
  const std::string unit = StartTagWith(*after, "data-unit", "imap4/du2");
  EXPECT_TRUE(absl::StrContains(unit, "data-state=\"UNIT_FAILED\"")) << unit;
  EXPECT_TRUE(absl::StrContains(unit, "state-UNIT_FAILED")) << unit;  // its colour
  const std::string store = StartTagWith(*after, "data-store", "st1");
  EXPECT_TRUE(absl::StrContains(store, absl::StrCat("data-master=\"", new_master, "\""))) << store;
  EXPECT_NE(StartTagWith(*after, "data-kind", "store.failover"), "") << "no failover event listed";
  EXPECT_NE(StartTagWith(*after, "data-safety", "redundancy_reduced"), "")
      << StartTagWith(*after, "id", "headline");
  EXPECT_TRUE(absl::StrContains(*after, "MAIL SAFE, REDUNDANCY REDUCED"));
  // The reason's events may have left the 50 latest by now; it must not
  // have run either way.
  EXPECT_FALSE(absl::StrContains(*after, "data-pwned=\"yes\"")) << "the operator's reason ran";
  ExpectPng("after");
}

}  // namespace
}  // namespace slotkeeper::testing
