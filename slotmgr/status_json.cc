#include "slotmgr/status_json.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/json.h"
#include "google/protobuf/util/json_util.h"
#include "tools/slotctl/headline.h"

namespace slotkeeper::slotmgr {
namespace {

// The proto as `slotctl --json` prints it, on one line. The messages are
// the coordinator's own, so printing cannot fail on them; a failure shows
// as null rather than as broken JSON.
std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "null";
  return out;
}

template <typename Messages>
std::string ProtoJsonArray(const Messages& messages) {
  std::string out = "[";
  bool first = true;
  for (const auto& m : messages) {
    absl::StrAppend(&out, first ? "" : ",", ProtoJson(m));
    first = false;
  }
  return out + "]";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrCat(value);
}

std::string TasksJson(const v1::ListTasksResponse& tasks) {
  std::string out = "[";
  bool first = true;
  for (const v1::TaskInfo& t : tasks.tasks()) {
    const TaskEstimate e = EstimateTask(t.progress());
    absl::StrAppend(&out, first ? "" : ",", "{\"info\":", ProtoJson(t),
                    ",\"fraction\":", JsonNumber(e.fraction), ",\"eta_ms\":", e.eta_ms, "}");
    first = false;
  }
  return out + "]";
}

}  // namespace

TaskEstimate EstimateTask(const v1::TaskProgress& p) {
  TaskEstimate e;
  if (p.bytes_total() == 0) return e;
  const uint64_t done = std::min(p.bytes_done(), p.bytes_total());
  e.fraction = static_cast<double>(done) / static_cast<double>(p.bytes_total());
  if (p.bytes_per_second() > 0 && std::isfinite(p.bytes_per_second())) {
    const double left_s = static_cast<double>(p.bytes_total() - done) / p.bytes_per_second();
    e.eta_ms = static_cast<int64_t>(std::llround(left_s * 1000.0));
  }
  return e;
}

std::vector<v1::Event> NewestEvents(std::vector<v1::Event> events, size_t limit) {
  std::sort(events.begin(), events.end(),
            [](const v1::Event& a, const v1::Event& b) { return a.seq() > b.seq(); });
  if (events.size() > limit) events.resize(limit);
  return events;
}

std::string StatusJson(const StatusSnapshot& s) {
  const slotctl::Headline h = slotctl::MailHeadline(s.status);
  return absl::StrCat(
      "{\"headline\":{\"safety\":", JsonQuote(slotctl::MailSafetyKey(h.safety)),
      ",\"title\":", JsonQuote(h.title), ",\"detail\":", JsonQuote(h.detail), "}",
      ",\"status\":", ProtoJson(s.status), ",\"hosts\":", ProtoJsonArray(s.hosts.hosts()),
      ",\"stores\":", ProtoJsonArray(s.stores.stores()), ",\"tasks\":", TasksJson(s.tasks),
      ",\"events\":", ProtoJsonArray(NewestEvents(s.events, s.events.size())), "}\n");
}

std::string IncidentJson(const slotctl::IncidentReport& report, int64_t since_ms, int64_t now_ms) {
  absl::string_view summary = absl::StripTrailingAsciiWhitespace(report.json);
  return absl::StrCat("{\"title\":", JsonQuote(report.title),
                      ",\"status\":", JsonQuote(report.status),
                      ",\"markdown\":", JsonQuote(report.markdown),
                      ",\"summary\":", summary.empty() ? "null" : summary,
                      ",\"since_ms\":", since_ms, ",\"now_ms\":", now_ms, "}\n");
}

std::string ErrorJson(const std::string& message) {
  return absl::StrCat("{\"error\":", JsonQuote(message), "}\n");
}

}  // namespace slotkeeper::slotmgr
