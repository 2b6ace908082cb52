// The status page's JavaScript in headless Chromium (tests/harness/
// headless_chromium.h), over the real endpoints of an in-process coordinator
// (real RocksDB, fake clock, fake agents' messages) served on loopback:
//   - re-replication tasks: a known total gives a bar at its percentage, the
//     rate and the time left; an unknown total says "unknown", not 0 %;
//   - a host named "<script>" and a drain reason shaped like an <img
//     onerror=...> are shown as text: no element is made from them and
//     nothing in them runs.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/http_server.h"
#include "slotmgr/http_handlers.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/testing/http_fixture.h"
#include "tests/harness/headless_chromium.h"

namespace slotkeeper::slotmgr {
namespace {

using slotkeeper::testing::DumpDom;
using slotkeeper::testing::StartTagWith;

// The text between `tag_start` (a start tag found in `dom`) and the end of
// that element's row: enough to find what a table row shows.
std::string RowFrom(const std::string& dom, const std::string& tag_start) {
  const size_t at = dom.find(tag_start);
  if (at == std::string::npos) return "";
  const size_t end = dom.find("</tr>", at);
  return dom.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class StatusPageDomTest : public testing::CoordinatorHttpFixture {
 protected:
  void ReportProgress(const std::string& host, const std::string& task, uint64_t done,
                      uint64_t total, double rate) {
    v1::TaskUpdate u;
    u.set_task_id(task);
    u.set_state(v1::TASK_RUNNING);
    u.mutable_progress()->set_bytes_done(done);
    u.mutable_progress()->set_bytes_total(total);
    u.mutable_progress()->set_bytes_per_second(rate);
    ASSERT_TRUE(coord_->ApplyTaskUpdate(host, u).ok());
  }

  std::string Url() const { return absl::StrCat("http://127.0.0.1:", http_->port(), "/"); }
};

TEST_F(StatusPageDomTest, TasksHostileNamesAndReasons) {
  ASSERT_TRUE(slotkeeper::testing::ChromiumAvailable().ok())
      << slotkeeper::testing::ChromiumAvailable();
  RegisterThree();
  RegisterHost(testing::MakeInventory("<script>"));
  v1::DrainRequest drain;
  drain.set_host("<script>");
  drain.set_reason("<img src=x onerror=\"document.body.setAttribute('data-pwned','yes')\">");
  ASSERT_TRUE(Drain(*coord_, drain).ok());
  // st1's two replicas are being copied: t1 to imap2, t2 to imap3.
  v1::CreateStoreRequest req;
  req.set_store("st1");
  *req.mutable_master() = testing::Ref("imap1", "s01");
  *req.add_replicas() = testing::Ref("imap2", "s01");
  *req.add_replicas() = testing::Ref("imap3", "s01");
  ASSERT_TRUE(CreateStore(*coord_, req).ok());
  const v1::ListTasksResponse tasks = coord_->queries().ListTasks({});
  ASSERT_EQ(tasks.tasks_size(), 2);
  std::string known, unknown;
  for (const v1::TaskInfo& t : tasks.tasks()) {
    ASSERT_EQ(t.state(), v1::TASK_RUNNING) << t.ShortDebugString();
    if (t.target().host() == "imap2") {
      known = t.id();
      ReportProgress("imap2", t.id(), 256 << 10, 1 << 20, 64 << 10);  // 25 %, 12 s left
    } else {
      unknown = t.id();
      ReportProgress("imap3", t.id(), 5000, 0, 100);
    }
  }

  absl::StatusOr<std::string> dom = DumpDom(Url());
  ASSERT_TRUE(dom.ok()) << dom.status();
  ASSERT_NE(StartTagWith(*dom, "data-loaded", "yes"), "")
      << "the page never rendered /api/status:\n"
      << dom->substr(0, 2000);

  const std::string known_row = RowFrom(*dom, StartTagWith(*dom, "data-task", known));
  EXPECT_TRUE(absl::StrContains(known_row, "data-percent=\"25.0\"")) << known_row;
  EXPECT_TRUE(absl::StrContains(known_row, "256.0 KiB / 1.0 MiB (25.0%)")) << known_row;
  EXPECT_TRUE(absl::StrContains(known_row, "width: 25%")) << known_row;
  EXPECT_TRUE(absl::StrContains(known_row, "64.0 KiB/s")) << known_row;
  EXPECT_TRUE(absl::StrContains(known_row, "about 12s")) << known_row;

  const std::string unknown_row = RowFrom(*dom, StartTagWith(*dom, "data-task", unknown));
  EXPECT_TRUE(absl::StrContains(unknown_row, "data-percent=\"unknown\"")) << unknown_row;
  EXPECT_TRUE(absl::StrContains(unknown_row, "4.9 KiB / unknown")) << unknown_row;
  EXPECT_FALSE(absl::StrContains(unknown_row, "%)")) << unknown_row;

  // The host named "<script>": its name as text; the page's own script is
  // the only script element.
  EXPECT_TRUE(absl::StrContains(*dom, "<span class=\"name\">&lt;script&gt;</span>"))
      << dom->substr(0, 4000);
  EXPECT_EQ(Count(*dom, "<script"), 1u) << "an element was made from a name";
  EXPECT_TRUE(absl::StrContains(*dom, "draining: &lt;img src=x onerror="));
  EXPECT_EQ(Count(*dom, "<img"), 0u) << "an element was made from a reason";
  EXPECT_FALSE(absl::StrContains(*dom, "data-pwned=\"yes\"")) << "a reason ran as script";
}

}  // namespace
}  // namespace slotkeeper::slotmgr
