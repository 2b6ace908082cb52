// RenderIncidentJson (incident_render.h): the post's facts as one JSON
// object, keys in a fixed order, two-space indentation. Times are
// milliseconds since the epoch (`*_ms`) and UTC text; spans are
// milliseconds; unknown values are null.

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "tools/slotctl/incident_render.h"

namespace slotkeeper::slotctl {
namespace {

// A small writer: objects and arrays with one member per line.
class JsonOut {
 public:
  void Open(char bracket) {
    out_ += bracket;
    first_.push_back(true);
  }
  void Close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) NewLine();
    out_ += bracket;
  }
  // Starts a member of the current object; the value follows.
  void Key(const std::string& key) {
    Item();
    out_ += JsonQuote(key) + ": ";
  }
  // Starts an element of the current array.
  void Item() {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    NewLine();
  }
  void Raw(const std::string& value) { out_ += value; }

  void Field(const std::string& key, const std::string& value) {
    Key(key);
    Raw(JsonQuote(value));
  }
  void Field(const std::string& key, int64_t value) {
    Key(key);
    Raw(absl::StrCat(value));
  }
  void Field(const std::string& key, bool value) {
    Key(key);
    Raw(value ? "true" : "false");
  }
  void Field(const std::string& key, std::optional<int64_t> value) {
    Key(key);
    Raw(value ? absl::StrCat(*value) : "null");
  }
  void Strings(const std::string& key, const std::set<std::string>& values) {
    Key(key);
    Open('[');
    for (const std::string& v : values) {
      Item();
      Raw(JsonQuote(v));
    }
    Close(']');
  }

  std::string Take() { return std::move(out_) + "\n"; }

 private:
  void NewLine() {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  std::string out_;
  std::vector<bool> first_;
};

std::string Iso(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

const char* RoleName(IncidentRole role) {
  switch (role) {
    case IncidentRole::kProblem:
      return "problem";
    case IncidentRole::kAction:
      return "action";
    case IncidentRole::kRecovery:
      return "recovery";
    case IncidentRole::kIgnored:
      break;
  }
  return "ignored";
}

void Line(JsonOut& j, const TimelineLine& line, int64_t start_ms) {
  j.Field("time", Iso(line.first_ms));
  j.Field("time_ms", line.first_ms);
  j.Field("offset_ms", line.first_ms - start_ms);
  j.Field("until_ms", line.last_ms);
  j.Field("role", std::string(RoleName(line.role)));
  j.Field("text", line.text);
  j.Strings("stores", line.stores);
  j.Strings("kinds", line.kinds);
  j.Field("events", static_cast<int64_t>(line.events));
}

void Timeline(JsonOut& j, const std::vector<TimelineCause>& timeline, int64_t start_ms) {
  j.Key("timeline");
  j.Open('[');
  for (const TimelineCause& cause : timeline) {
    j.Item();
    j.Open('{');
    Line(j, cause.line, start_ms);
    j.Key("consequences");
    j.Open('[');
    for (const TimelineLine& line : cause.consequences) {
      j.Item();
      j.Open('{');
      Line(j, line, start_ms);
      j.Close('}');
    }
    j.Close(']');
    j.Close('}');
  }
  j.Close(']');
}

std::optional<int64_t> IfSet(int64_t value, bool set) {
  return set ? std::optional<int64_t>(value) : std::nullopt;
}

void Stores(JsonOut& j, const IncidentSummary& s) {
  j.Key("stores");
  j.Open('[');
  for (const StoreOutcome& o : s.stores) {
    j.Item();
    j.Open('{');
    j.Field("store", o.store);
    j.Field("users", IfSet(static_cast<int64_t>(o.users.value_or(0)), o.users.has_value()));
    j.Field("unavailable_ms", o.unavailable_ms);
    j.Field("unavailable_since_ms", IfSet(o.unavailable_since_ms, o.unavailable_since_ms != 0));
    j.Field("failover_ms", IfSet(o.failover_ms, o.failover_ms != 0));
    j.Field("failover_after_ms", IfSet(o.failover_after_ms, o.failover_after_ms >= 0));
    j.Field("failover_to", o.failover_to);
    j.Field("left_healthy", o.left_healthy);
    j.Field("all_copies_after_ms",
            IfSet(o.healthy_ms - s.start_ms, o.left_healthy && o.healthy_now));
    j.Close('}');
  }
  j.Close(']');
}

void Open(JsonOut& j, const IncidentSummary& s) {
  static const char* kSeverity[] = {"outage", "risk", "follow_up"};
  j.Key("still_open");
  if (!s.status_known) {
    j.Raw("null");
    return;
  }
  j.Open('[');
  for (const OpenItem& item : s.open) {
    j.Item();
    j.Open('{');
    j.Field("severity", std::string(kSeverity[item.severity]));
    j.Field("store", item.store);
    j.Field("text", item.text);
    j.Close('}');
  }
  j.Close(']');
}

void Figures(JsonOut& j, const IncidentSummary& s) {
  j.Field("first_action_after_ms", IfSet(s.first_action_ms - s.start_ms, s.first_action_ms != 0));
  j.Field("first_action_kind", s.first_action_kind);
  j.Field("users_affected",
          IfSet(static_cast<int64_t>(s.users_affected.value_or(0)), s.users_affected.has_value()));
  j.Field("longest_unavailable_ms", s.longest_unavailable_ms);
  j.Field("full_redundancy_after_ms", IfSet(s.redundancy_ms, s.redundancy_restored));
  j.Key("data_moved");
  j.Open('{');
  j.Field("bytes", static_cast<int64_t>(s.bytes_moved));
  j.Field("tasks_done", static_cast<int64_t>(s.tasks_done));
  j.Field("tasks_bytes_unknown", static_cast<int64_t>(s.tasks_bytes_unknown));
  j.Close('}');
}

}  // namespace

std::string RenderIncidentJson(const IncidentFacts& f) {
  const IncidentScope& scope = *f.scope;
  const IncidentSummary& s = *f.summary;
  JsonOut j;
  j.Open('{');
  j.Field("title", f.title);
  j.Field("status", f.status);
  j.Field("status_text", f.status_text);
  j.Field("since_ms", f.since_ms);
  j.Field("now_ms", f.now_ms);
  j.Field("window_events", static_cast<int64_t>(scope.window_events));
  j.Field("incident_events", static_cast<int64_t>(scope.events.size()));
  j.Field("unlinked_problems", static_cast<int64_t>(scope.unlinked_problems));
  if (!scope.empty()) {
    const v1::Event& root = scope.root();
    j.Key("root");
    j.Open('{');
    j.Field("time", Iso(root.time_ms()));
    j.Field("time_ms", root.time_ms());
    j.Field("seq", static_cast<int64_t>(root.seq()));
    j.Field("kind", root.kind());
    j.Field("host", root.host());
    j.Field("unit", root.unit());
    j.Field("slot", root.slot());
    j.Field("store", root.store());
    j.Close('}');
    Figures(j, s);
    Stores(j, s);
    Timeline(j, *f.timeline, s.start_ms);
  }
  Open(j, s);
  j.Field("back_to_normal", s.status_known && s.open.empty());
  j.Close('}');
  return j.Take();
}

}  // namespace slotkeeper::slotctl
