// The shared metrics pieces: exposition through TextSerializer read back by
// the test parser, the process collector's /proc parsers, and the RPC
// metrics' labels (status code names, the cap on method names).
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/metrics_http.h"
#include "base/metrics_text.h"
#include "base/process_metrics.h"
#include "base/rpc_metrics.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace slotkeeper {
namespace {

class FixedFamilies : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto g = GaugeFamily("slotkeeper_test_things", "Things.");
    AddSample(g, 3, {{"state", "up"}});
    AddSample(g, 1.5, {{"state", "odd \"quoted\""}});
    auto c = CounterFamily("slotkeeper_test_events_total", "Events.");
    AddSample(c, 7);
    return {g, c};
  }
};

TEST(ExposeMetrics, WritesEveryFamilyOfEverySourceReadableByTheParser) {
  auto registry = std::make_shared<prometheus::Registry>();
  RpcMetrics rpc(*registry);
  rpc.Record("/slotkeeper.v1.Automation/GetStatus", true, grpc::StatusCode::OK, 0.002);
  const std::string text = ExposeMetrics({std::make_shared<FixedFamilies>(), registry});
  auto parsed = testing::ParseExposition(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_EQ(parsed->types["slotkeeper_test_things"], "gauge");
  EXPECT_EQ(parsed->types["slotkeeper_test_events_total"], "counter");
  EXPECT_EQ(parsed->types["slotkeeper_grpc_server_handling_seconds"], "histogram");
  EXPECT_EQ(parsed->Sum("slotkeeper_test_things", {{"state", "up"}}), 3);
  EXPECT_EQ(parsed->Sum("slotkeeper_test_things", {{"state", "odd \"quoted\""}}), 1.5);
  EXPECT_EQ(parsed->Sum("slotkeeper_test_events_total"), 7);
  EXPECT_EQ(parsed->Sum(
                "slotkeeper_grpc_server_handled_total",
                {{"service", "slotkeeper.v1.Automation"}, {"method", "GetStatus"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(parsed->Sum("slotkeeper_grpc_server_handling_seconds_count", {{"method", "GetStatus"}}),
            1);
}

TEST(ExposeMetrics, ParserRefusesMalformedLines) {
  EXPECT_FALSE(testing::ParseExposition("name{a=\"x\" 1\n").ok());
  EXPECT_FALSE(testing::ParseExposition("name notanumber\n").ok());
  EXPECT_FALSE(testing::ParseExposition("# TYPE onlyname\n").ok());
}

TEST(RpcMetrics, StreamsAreCountedButNotTimed) {
  prometheus::Registry registry;
  RpcMetrics rpc(registry);
  rpc.Record("/slotkeeper.v1.AgentService/Session", false, grpc::StatusCode::CANCELLED, 30);
  auto parsed = testing::ParseExposition(ExposeMetrics(
      {std::shared_ptr<const prometheus::Collectable>(&registry, [](const void*) {})}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Sum("slotkeeper_grpc_server_handled_total",
                        {{"method", "Session"}, {"code", "CANCELLED"}}),
            1);
  EXPECT_FALSE(parsed->Has("slotkeeper_grpc_server_handling_seconds_count"));
}

TEST(RpcMetrics, MethodNamesPastTheCapAndMalformedOnesAreOther) {
  prometheus::Registry registry;
  RpcMetrics rpc(registry);
  for (size_t i = 0; i < RpcMetrics::kMaxMethods + 5; ++i) {
    rpc.Record(absl::StrCat("/made.Up/M", i), true, grpc::StatusCode::UNIMPLEMENTED, 0);
  }
  rpc.Record("no-slash", true, grpc::StatusCode::UNIMPLEMENTED, 0);
  rpc.Record("/made.Up/M0", true, grpc::StatusCode::UNIMPLEMENTED, 0);  // known: kept
  auto parsed = testing::ParseExposition(ExposeMetrics(
      {std::shared_ptr<const prometheus::Collectable>(&registry, [](const void*) {})}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Sum("slotkeeper_grpc_server_handled_total", {{"method", "other"}}), 6);
  EXPECT_EQ(parsed->Sum("slotkeeper_grpc_server_handled_total", {{"method", "M0"}}), 2);
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::PERMISSION_DENIED), std::string("PERMISSION_DENIED"));
}

TEST(ProcessMetrics, ParsesStatWithSpacesAndParenthesesInTheCommand) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice threads itrealvalue
  // starttime vsize rss ...
  const std::string line =
      "4242 (slot mgr) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 "
      "12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto s = ParseProcStat(line);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 150u);
  EXPECT_EQ(s->start_ticks, 12345u);
  EXPECT_EQ(s->vsize_bytes, 104857600u);
  EXPECT_EQ(s->rss_pages, 2560);
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("no parenthesis at all").has_value());
}

TEST(ProcessMetrics, FamiliesInSecondsAndBytes) {
  ProcessSample sample;
  sample.stat = ProcStat{250, 150, 12345, 1000, 10};
  sample.boot_time_s = ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
  sample.open_fds = 12;
  ASSERT_TRUE(sample.boot_time_s.has_value());
  std::vector<prometheus::MetricFamily> fams = ProcessFamilies(sample, 100, 4096);
  std::map<std::string, double> v;
  for (const auto& f : fams) {
    v[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                          : f.metric[0].gauge.value;
  }
  EXPECT_DOUBLE_EQ(v["process_cpu_seconds_total"], 4.0);
  EXPECT_DOUBLE_EQ(v["process_resident_memory_bytes"], 40960);
  EXPECT_DOUBLE_EQ(v["process_start_time_seconds"], 1700000000 + 123.45);
  EXPECT_DOUBLE_EQ(v["process_open_fds"], 12);
  EXPECT_EQ(v.count("process_max_fds"), 0u);  // not in the sample: left out
}

TEST(ProcessMetrics, ReadsThisProcess) {
  std::vector<prometheus::MetricFamily> fams = ProcessCollector().Collect();
  std::set<std::string> names;
  for (const auto& f : fams) names.insert(f.name);
  EXPECT_TRUE(names.count("process_cpu_seconds_total"));
  EXPECT_TRUE(names.count("process_resident_memory_bytes"));
  EXPECT_TRUE(names.count("process_open_fds"));
  EXPECT_TRUE(names.count("process_start_time_seconds"));
  EXPECT_TRUE(ProcessCollector("/nonexistent").Collect().size() <= 1);  // only max_fds
}

}  // namespace
}  // namespace slotkeeper
