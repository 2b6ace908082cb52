#include "slotmgr/status_page.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "slotmgr/status_json.h"
#include "tools/slotctl/incident.h"

// Generated from status_page/index.html (see BUILD.bazel).
extern const char kSlotkeeperStatusPageHtml[];

namespace slotkeeper::slotmgr {
namespace {

constexpr char kJson[] = "application/json; charset=utf-8";
constexpr absl::Duration kDefaultIncidentWindow = absl::Hours(6);
constexpr absl::Duration kMaxIncidentWindow = absl::Hours(24 * 7);

HttpResponse ServeStatus(const Queries& q) {
  StatusSnapshot s;
  s.status = q.GetClusterStatus();
  s.hosts = q.ListHosts();
  s.stores = q.ListStores(/*troubled_only=*/false);
  s.tasks = q.ListTasks(v1::ListTasksRequest());
  const uint64_t last = q.LastEventSeq();
  absl::StatusOr<std::vector<v1::Event>> events =
      q.EventsAfter(last > kStatusPageEvents ? last - kStatusPageEvents : 0, kStatusPageEvents);
  if (!events.ok()) {
    return {500, kJson,
            ErrorJson(absl::StrCat("reading the journal: ", events.status().message()))};
  }
  s.events = *std::move(events);
  return {200, kJson, StatusJson(s)};
}

// A query value as echoed in an error: at most 64 bytes, anything but
// letters, digits and ".+-" shown as '?'.
std::string Shown(absl::string_view value) {
  std::string out(value.substr(0, 64));
  for (char& c : out) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-') {
      c = '?';
    }
  }
  return out;
}

// The window of ?since=DURATION; INVALID_ARGUMENT names what was wrong.
absl::StatusOr<absl::Duration> IncidentWindow(absl::string_view query) {
  const std::string since = QueryParam(query, "since");
  if (since.empty()) return kDefaultIncidentWindow;
  absl::Duration d;
  if (!absl::ParseDuration(since, &d) || d <= absl::ZeroDuration() || d > kMaxIncidentWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("since must be a duration such as 30m or 6h, above 0 and at most 168h; got \"",
                     Shown(since), "\""));
  }
  return d;
}

HttpResponse ServeIncident(const Queries& q, const HttpRequest& request) {
  absl::StatusOr<absl::Duration> window = IncidentWindow(request.query);
  if (!window.ok()) return {400, kJson, ErrorJson(std::string(window.status().message()))};
  const v1::ClusterStatus status = q.GetClusterStatus();
  slotctl::IncidentInputs in;
  in.now_ms = status.coordinator_time_ms();
  in.since_ms = in.now_ms - absl::ToInt64Milliseconds(*window);
  v1::ListEventsRequest req;
  req.set_since_ms(in.since_ms);
  req.set_limit(100000);  // the most Queries reads: an incident is not cut short
  absl::StatusOr<v1::ListEventsResponse> events = q.ListEvents(req);
  if (!events.ok()) {
    return {500, kJson,
            ErrorJson(absl::StrCat("reading the journal: ", events.status().message()))};
  }
  const v1::ListStoresResponse stores = q.ListStores(/*troubled_only=*/false);
  in.events.assign(events->events().begin(), events->events().end());
  in.status = &status;
  in.stores.assign(stores.stores().begin(), stores.stores().end());
  const slotctl::IncidentReport report = slotctl::BuildIncident(in);
  return {200, kJson, IncidentJson(report, in.since_ms, in.now_ms)};
}

}  // namespace

absl::string_view StatusPageHtml() { return kSlotkeeperStatusPageHtml; }

void AddStatusPage(const Queries* queries, std::map<std::string, HttpHandler>* handlers) {
  (*handlers)["/"] = [](const HttpRequest&) {
    return HttpResponse{200, "text/html; charset=utf-8", std::string(StatusPageHtml())};
  };
  (*handlers)["/api/status"] = [queries](const HttpRequest&) { return ServeStatus(*queries); };
  (*handlers)["/api/incident"] = [queries](const HttpRequest& request) {
    return ServeIncident(*queries, request);
  };
}

}  // namespace slotkeeper::slotmgr
