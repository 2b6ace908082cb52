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
// Chromium talks only to 127.0.0.1: every other host resolves to nothing and
// goes to a closed proxy port, background services are off.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";
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

// Runs headless Chromium on `url` with `args`; its stdout as a string.
absl::StatusOr<std::string> RunChromium(const std::string& url, const std::string& name,
                                        const std::vector<std::string>& args) {
  const std::string tmp = absl::StrCat(std::getenv("TEST_TMPDIR"), "/chromium-", name);
  const std::string out_path = tmp + ".out";
  const std::string err_path = tmp + ".err";
  std::vector<std::string> argv = {
      "/bin/sh", "-c", absl::StrCat("exec \"$0\" \"$@\" 2>>'", err_path, "'"), kChromium,
      "--headless=new", "--no-sandbox",  // as root, Chromium's sandbox will not start
      "--disable-gpu", absl::StrCat("--user-data-dir=", tmp, "-profile"),
      // Only loopback: no name resolves, anything else goes to a closed
      // port, and the browser's own background traffic is off.
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
      "--no-first-run", "--no-default-browser-check", "--disable-breakpad",
      // Let the page fetch and render (it polls every 2 s) before the DOM
      // is printed.
      "--virtual-time-budget=5000"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  Process chromium;
  if (absl::Status st = chromium.Start(argv, out_path, {{"HOME", tmp + "-home"}}); !st.ok()) {
    return st;
  }
  absl::StatusOr<int> code = chromium.Wait(absl::Seconds(120));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat("chromium exited with ", *code, "; stderr:\n",
                                            ReadFile(err_path).substr(0, 3000)));
  }
  return ReadFile(out_path);
}

// The DOM after the page's JavaScript ran, and a screenshot in the outputs.
absl::StatusOr<std::string> LoadPage(const std::string& url, const std::string& name) {
  absl::StatusOr<std::string> dom = RunChromium(url, name + "-dom", {"--dump-dom"});
  if (!dom.ok()) return dom.status();
  const std::string png = absl::StrCat(OutputDir(), "/status_page_", name, ".png");
  absl::StatusOr<std::string> shot = RunChromium(
      url, name + "-png", {absl::StrCat("--screenshot=", png), "--window-size=1400,1000"});
  if (!shot.ok()) return shot.status();
  std::fprintf(stderr, "screenshot: %s\n", png.c_str());
  return dom;
}

// The start tag of the first element with attribute `name`="value", or "".
std::string TagWith(const std::string& dom, const std::string& name, const std::string& value) {
  const size_t at = dom.find(absl::StrCat(" ", name, "=\"", value, "\""));
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at);
  const size_t close = dom.find('>', at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return dom.substr(open, close - open + 1);
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
  ASSERT_EQ(access(kChromium, X_OK), 0) << kChromium << " is missing: run tools/dev deps";
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
  ASSERT_NE(TagWith(*before, "data-loaded", "yes"), "") << "the page never rendered /api/status:\n"
                                                        << before->substr(0, 3000);
  EXPECT_NE(TagWith(*before, "data-safety", "safe"), "") << TagWith(*before, "id", "headline");
  EXPECT_TRUE(absl::StrContains(TagWith(*before, "data-unit", "imap4/du2"), "UNIT_ONLINE"))
      << TagWith(*before, "data-unit", "imap4/du2");
  EXPECT_TRUE(
      absl::StrContains(TagWith(*before, "data-store", "st1"), "data-master=\"imap4/du2s1\""))
      << TagWith(*before, "data-store", "st1");
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
  ASSERT_NE(TagWith(*after, "data-loaded", "yes"), "") << after->substr(0, 3000);
  const std::string unit = TagWith(*after, "data-unit", "imap4/du2");
  EXPECT_TRUE(absl::StrContains(unit, "data-state=\"UNIT_FAILED\"")) << unit;
  EXPECT_TRUE(absl::StrContains(unit, "state-UNIT_FAILED")) << unit;  // its colour
  const std::string store = TagWith(*after, "data-store", "st1");
  EXPECT_TRUE(absl::StrContains(store, absl::StrCat("data-master=\"", new_master, "\""))) << store;
  EXPECT_NE(TagWith(*after, "data-kind", "store.failover"), "") << "no failover event listed";
  EXPECT_NE(TagWith(*after, "data-safety", "redundancy_reduced"), "")
      << TagWith(*after, "id", "headline");
  EXPECT_TRUE(absl::StrContains(*after, "MAIL SAFE, REDUNDANCY REDUCED"));
  ExpectHostileTextInert(*after);
  ExpectPng("after");
}

}  // namespace
}  // namespace slotkeeper::testing
