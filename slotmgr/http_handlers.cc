#include "slotmgr/http_handlers.h"

#include <utility>

#include "base/metrics_http.h"
#include "slotmgr/status_page.h"

namespace slotkeeper::slotmgr {

std::map<std::string, HttpHandler> CoordinatorHttpHandlers(
    const Coordinator* core, std::vector<std::shared_ptr<const prometheus::Collectable>> metrics) {
  std::map<std::string, HttpHandler> handlers;
  if (!metrics.empty()) handlers["/metrics"] = MetricsHandler(std::move(metrics));
  handlers["/healthz"] = [](const HttpRequest&) {
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  };
  AddStatusPage(&core->queries(), &handlers);  // "/", "/api/status", "/api/incident"
  return handlers;
}

}  // namespace slotkeeper::slotmgr
