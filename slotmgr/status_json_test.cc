// The status page's JSON from literal query answers: task estimates never
// past 100 % and "unknown" (-1) without a total or a rate, the newest
// events first, and hostile names kept as data in valid JSON.
#include "slotmgr/status_json.h"

#include <gtest/gtest.h>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace slotkeeper::slotmgr {
namespace {

google::protobuf::Struct Parse(const std::string& json) {
  google::protobuf::Struct out;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &out);
  EXPECT_TRUE(st.ok()) << st << "\n" << json;
  return out;
}

const google::protobuf::Value& Field(const google::protobuf::Struct& s, const std::string& name) {
  static const google::protobuf::Value kMissing;
  auto it = s.fields().find(name);
  EXPECT_NE(it, s.fields().end()) << "no field " << name;
  return it == s.fields().end() ? kMissing : it->second;
}

v1::TaskProgress Progress(uint64_t done, uint64_t total, double rate) {
  v1::TaskProgress p;
  p.set_bytes_done(done);
  p.set_bytes_total(total);
  p.set_bytes_per_second(rate);
  return p;
}

TEST(EstimateTaskTest, FractionAndTimeLeft) {
  const TaskEstimate e = EstimateTask(Progress(250, 1000, 50));
  EXPECT_DOUBLE_EQ(e.fraction, 0.25);
  EXPECT_EQ(e.eta_ms, 15000);  // 750 bytes at 50 B/s
}

TEST(EstimateTaskTest, UnknownTotalIsUnknownNotZero) {
  const TaskEstimate e = EstimateTask(Progress(5000, 0, 100));
  EXPECT_EQ(e.fraction, -1);
  EXPECT_EQ(e.eta_ms, -1);
}

TEST(EstimateTaskTest, NoRateGivesNoTimeLeft) {
  const TaskEstimate e = EstimateTask(Progress(10, 100, 0));
  EXPECT_DOUBLE_EQ(e.fraction, 0.1);
  EXPECT_EQ(e.eta_ms, -1);
}

TEST(EstimateTaskTest, NeverPastAHundredPercent) {
  // Done may pass a total reported earlier (mail delivered during the copy).
  const TaskEstimate e = EstimateTask(Progress(1500, 1000, 100));
  EXPECT_DOUBLE_EQ(e.fraction, 1.0);
  EXPECT_EQ(e.eta_ms, 0);
}

TEST(NewestEventsTest, NewestFirstAndCut) {
  std::vector<v1::Event> events(5);
  for (int i = 0; i < 5; ++i) events[i].set_seq(10 + (i * 3) % 5);  // 10 13 11 14 12
  const std::vector<v1::Event> newest = NewestEvents(events, 3);
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_EQ(newest[0].seq(), 14u);
  EXPECT_EQ(newest[1].seq(), 13u);
  EXPECT_EQ(newest[2].seq(), 12u);
}

TEST(StatusJsonTest, AllSectionsWithHostileTextKeptAsData) {
  const std::string hostile = "<script>alert(\"x\")</script>\n\\";
  StatusSnapshot s;
  s.status.set_stores_total(1);
  v1::StoreInfo* troubled = s.status.add_troubled_stores();
  troubled->set_state(v1::STORE_NO_MASTER);
  v1::HostInfo* host = s.hosts.add_hosts();
  host->set_name("<b>imap1");
  host->set_drain_reason(hostile);
  host->add_units()->set_state(v1::UNIT_FAILED);
  v1::StoreInfo* store = s.stores.add_stores();
  store->set_name("st1");
  store->set_note(hostile);
  v1::TaskInfo* task = s.tasks.add_tasks();
  task->set_id("t1");
  *task->mutable_progress() = Progress(10, 0, 5);
  for (int seq : {3, 7, 5}) {
    v1::Event e;
    e.set_seq(seq);
    e.set_kind("store.failover");
    e.set_text(hostile);
    s.events.push_back(e);
  }
  const std::string json = StatusJson(s);
  const google::protobuf::Struct root = Parse(json);

  const auto& headline = Field(root, "headline").struct_value();
  EXPECT_EQ(Field(headline, "safety").string_value(), "at_risk");
  EXPECT_EQ(Field(headline, "title").string_value(), "MAIL AT RISK");

  const auto& hosts = Field(root, "hosts").list_value();
  ASSERT_EQ(hosts.values_size(), 1);
  EXPECT_EQ(Field(hosts.values(0).struct_value(), "name").string_value(), "<b>imap1");
  EXPECT_EQ(Field(hosts.values(0).struct_value(), "drain_reason").string_value(), hostile);
  const auto& units = Field(hosts.values(0).struct_value(), "units").list_value();
  EXPECT_EQ(Field(units.values(0).struct_value(), "state").string_value(), "UNIT_FAILED");

  const auto& stores = Field(root, "stores").list_value();
  EXPECT_EQ(Field(stores.values(0).struct_value(), "note").string_value(), hostile);

  const auto& tasks = Field(root, "tasks").list_value();
  ASSERT_EQ(tasks.values_size(), 1);
  EXPECT_EQ(Field(tasks.values(0).struct_value(), "fraction").number_value(), -1);
  EXPECT_EQ(Field(tasks.values(0).struct_value(), "eta_ms").number_value(), -1);
  EXPECT_EQ(
      Field(Field(tasks.values(0).struct_value(), "info").struct_value(), "id").string_value(),
      "t1");

  const auto& events = Field(root, "events").list_value();
  ASSERT_EQ(events.values_size(), 3);
  EXPECT_EQ(Field(events.values(0).struct_value(), "seq").string_value(), "7");  // int64: a string
  EXPECT_EQ(Field(events.values(2).struct_value(), "seq").string_value(), "3");
  EXPECT_EQ(Field(events.values(0).struct_value(), "text").string_value(), hostile);
  // Every field is printed, so the page finds its keys on a fresh cluster.
  EXPECT_TRUE(Field(root, "status").struct_value().fields().count("slots_master"));
}

TEST(IncidentJsonTest, CarriesTheWriteUpAndItsSummary) {
  slotctl::IncidentReport r;
  r.title = "Disk failure on <imap4>";
  r.status = "Resolved";
  r.markdown = "# Title\n\n- a \"line\"\n";
  r.json = "{\"title\":\"Disk failure on <imap4>\",\"users_affected\":3}\n";
  const google::protobuf::Struct root = Parse(IncidentJson(r, 1000, 2000));
  EXPECT_EQ(Field(root, "title").string_value(), r.title);
  EXPECT_EQ(Field(root, "status").string_value(), "Resolved");
  EXPECT_EQ(Field(root, "markdown").string_value(), r.markdown);
  EXPECT_EQ(Field(Field(root, "summary").struct_value(), "users_affected").number_value(), 3);
  EXPECT_EQ(Field(root, "since_ms").number_value(), 1000);
  EXPECT_EQ(Field(root, "now_ms").number_value(), 2000);
}

TEST(ErrorJsonTest, QuotesTheMessage) {
  const google::protobuf::Struct root = Parse(ErrorJson("bad \"since\"\n"));
  EXPECT_EQ(Field(root, "error").string_value(), "bad \"since\"\n");
}

}  // namespace
}  // namespace slotkeeper::slotmgr
