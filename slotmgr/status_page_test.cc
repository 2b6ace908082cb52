// The status page's endpoints, served by a real HTTP server on loopback over
// a coordinator on a real RocksDB (fake clock, fake agents' messages): what
// /api/status and /api/incident say before and after a drive unit holding a
// master fails, a host named like markup, bad query parameters, and the page
// itself (self-contained, text-only DOM updates).
#include "slotmgr/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "base/http_server.h"
#include "base/http_test_client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "slotmgr/http_handlers.h"
#include "slotmgr/testing/http_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Struct = google::protobuf::Struct;
using Value = google::protobuf::Value;

const Value& Field(const Struct& s, const std::string& name) {
  static const Value kMissing;
  auto it = s.fields().find(name);
  EXPECT_NE(it, s.fields().end()) << "no field " << name;
  return it == s.fields().end() ? kMissing : it->second;
}

// The element of `list` whose `key` is `value`, or null.
const Struct* Find(const Value& list, const std::string& key, const std::string& value) {
  for (const Value& v : list.list_value().values()) {
    auto it = v.struct_value().fields().find(key);
    if (it != v.struct_value().fields().end() && it->second.string_value() == value) {
      return &v.struct_value();
    }
  }
  return nullptr;
}

class StatusPageTest : public testing::CoordinatorHttpFixture {
 protected:
  slotkeeper::testing::HttpReply Get(const std::string& path) {
    auto reply = slotkeeper::testing::HttpGet(http_->port(), path);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : slotkeeper::testing::HttpReply{};
  }

  // GET `path`, expecting 200 and JSON; the parsed object.
  Struct GetJson(const std::string& path) {
    slotkeeper::testing::HttpReply r = Get(path);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.headers, HasSubstr("application/json"));
    Struct out;
    auto st = google::protobuf::util::JsonStringToMessage(r.body, &out);
    EXPECT_TRUE(st.ok()) << st << "\n" << r.body.substr(0, 2000);
    return out;
  }
};

TEST_F(StatusPageTest, StatusFollowsAUnitFailureUnderAMaster) {
  RegisterThree();
  CreateHealthyStore();
  Heartbeat(testing::kThreeHosts);

  Struct before = GetJson("/api/status");
  EXPECT_EQ(Field(Field(before, "headline").struct_value(), "safety").string_value(), "safe");
  EXPECT_EQ(Field(Field(before, "headline").struct_value(), "title").string_value(), "MAIL SAFE");
  const Struct* st1 = Find(Field(before, "stores"), "name", "st1");
  ASSERT_NE(st1, nullptr);
  EXPECT_EQ(Field(*st1, "state").string_value(), "STORE_HEALTHY");
  EXPECT_EQ(Field(*st1, "copies").list_value().values_size(), 3);
  const Struct* imap1 = Find(Field(before, "hosts"), "name", "imap1");
  ASSERT_NE(imap1, nullptr);
  const Struct* du1 = Find(Field(*imap1, "units"), "name", "du1");
  ASSERT_NE(du1, nullptr);
  EXPECT_EQ(Field(*du1, "state").string_value(), "UNIT_ONLINE");

  // imap1's du1 (under the master imap1/s01) turns read-only.
  ASSERT_TRUE(Report("imap1", {testing::FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
  ASSERT_TRUE(coord_->Tick().ok());

  Struct after = GetJson("/api/status");
  imap1 = Find(Field(after, "hosts"), "name", "imap1");
  ASSERT_NE(imap1, nullptr);
  du1 = Find(Field(*imap1, "units"), "name", "du1");
  ASSERT_NE(du1, nullptr);
  EXPECT_EQ(Field(*du1, "state").string_value(), "UNIT_FAILED");
  // The master is unusable and the failover waits for its grace: at risk.
  EXPECT_EQ(Field(Field(after, "headline").struct_value(), "safety").string_value(), "at_risk");
  st1 = Find(Field(after, "stores"), "name", "st1");
  ASSERT_NE(st1, nullptr);
  EXPECT_NE(Field(*st1, "state").string_value(), "STORE_HEALTHY");
  // The newest events come first and say what happened.
  const auto& events = Field(after, "events").list_value();
  ASSERT_GT(events.values_size(), 1);
  EXPECT_GT(std::stoull(Field(events.values(0).struct_value(), "seq").string_value()),
            std::stoull(Field(events.values(1).struct_value(), "seq").string_value()));
  EXPECT_NE(Find(Field(after, "events"), "kind", "unit.failed"), nullptr);
}

TEST_F(StatusPageTest, EventsAreTheLatestFifty) {
  RegisterThree();
  CreateHealthyStore();
  for (int i = 0; i < 30; ++i) {
    v1::DrainRequest req;
    req.set_host("imap3");
    req.set_reason("swap");
    ASSERT_TRUE((i % 2 == 0 ? Drain(*coord_, req) : Undrain(*coord_, req)).ok());
  }
  const uint64_t last = coord_->queries().LastEventSeq();
  ASSERT_GT(last, kStatusPageEvents);
  Struct s = GetJson("/api/status");
  const auto& events = Field(s, "events").list_value();
  ASSERT_EQ(events.values_size(), static_cast<int>(kStatusPageEvents));
  EXPECT_EQ(Field(events.values(0).struct_value(), "seq").string_value(), std::to_string(last));
  EXPECT_EQ(Field(events.values(kStatusPageEvents - 1).struct_value(), "seq").string_value(),
            std::to_string(last - kStatusPageEvents + 1));
}

TEST_F(StatusPageTest, NamesAndReasonsLikeMarkupStayData) {
  // Names allow any printable ASCII but space and '/': "<script>" is a valid
  // host name. Operators' reasons are free text.
  RegisterThree();
  v1::HostInventory inv = testing::MakeInventory("<script>");
  RegisterHost(inv);
  v1::DrainRequest req;
  req.set_host("<script>");
  req.set_reason("<img src=x onerror=alert(1)>");
  ASSERT_TRUE(Drain(*coord_, req).ok());

  Struct s = GetJson("/api/status");
  const Struct* host = Find(Field(s, "hosts"), "name", "<script>");
  ASSERT_NE(host, nullptr) << "the host named <script> is not listed";
  EXPECT_EQ(Field(*host, "drain_reason").string_value(), "<img src=x onerror=alert(1)>");
  EXPECT_TRUE(Field(*host, "draining").bool_value());
}

TEST_F(StatusPageTest, IncidentWriteUp) {
  RegisterThree();
  CreateHealthyStore();
  Heartbeat(testing::kThreeHosts);
  ASSERT_TRUE(Report("imap1", {testing::FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
  ASSERT_TRUE(coord_->Tick().ok());

  Struct inc = GetJson("/api/incident");
  EXPECT_FALSE(Field(inc, "title").string_value().empty());
  EXPECT_FALSE(Field(inc, "status").string_value().empty());
  EXPECT_THAT(Field(inc, "markdown").string_value(), HasSubstr("imap1"));
  EXPECT_TRUE(Field(inc, "summary").has_struct_value());
  const double now = Field(inc, "now_ms").number_value();
  EXPECT_EQ(now - Field(inc, "since_ms").number_value(), 6 * 3600 * 1000.0);

  Struct narrow = GetJson("/api/incident?since=30m");
  EXPECT_EQ(Field(narrow, "now_ms").number_value() - Field(narrow, "since_ms").number_value(),
            30 * 60 * 1000.0);
}

TEST_F(StatusPageTest, IncidentRefusesABadWindow) {
  for (const std::string query :
       {"since=yesterday", "since=-5m", "since=0s", "since=200h", "since=%3Cscript%3E"}) {
    slotkeeper::testing::HttpReply r = Get("/api/incident?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("since must be a duration")) << query;
    EXPECT_THAT(r.body, Not(HasSubstr("<script>"))) << query;
  }
}

TEST_F(StatusPageTest, ThePageIsSelfContainedAndWritesTextOnly) {
  slotkeeper::testing::HttpReply r = Get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("text/html"));
  EXPECT_EQ(r.body.substr(0, 15), "<!doctype html>");
  EXPECT_TRUE(r.body == StatusPageHtml()) << "/ serves something else than the compiled page";
  // It polls the JSON beside it, relative to where it is served.
  for (const char* used : {"fetch(path", "\"api/status\"", "\"api/incident\"", ".textContent ="}) {
    EXPECT_TRUE(absl::StrContains(r.body, used)) << "the page does not use " << used;
  }
  // Nothing from elsewhere (no URL of another origin, no linked file), and
  // data reaches the document as text only.
  for (const char* banned :
       {"http://", "https://", "<link", "<script src", "innerHTML", "outerHTML",
        "insertAdjacentHTML", "document.write", "eval(", "new Function"}) {
    EXPECT_FALSE(absl::StrContains(r.body, banned)) << "the page holds " << banned;
  }
}

TEST_F(StatusPageTest, UnknownPathsAreNotFound) {
  EXPECT_EQ(Get("/api/nothing").status, 404);
  EXPECT_EQ(Get("/index.html").status, 404);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
