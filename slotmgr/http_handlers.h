// What slotmgrd serves on its HTTP port (base/http_server.h): read-only
// pages for operators and monitoring, built on the coordinator's queries.
//
//   /healthz   "ok" once the state is loaded and the gRPC server is serving
//   /, /api/   the status page and its JSON (status_page.h)
//   /metrics   Prometheus text exposition of `metrics` (coordinator_metrics.h;
//              every family in docs/metrics.md), when any are given
#ifndef SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_
#define SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/http_server.h"
#include "prometheus/collectable.h"
#include "slotmgr/coordinator.h"

namespace slotkeeper::slotmgr {

// The pages, keyed by path. `core` is not owned and must outlive the server
// that serves them; the handlers keep `metrics` alive.
std::map<std::string, HttpHandler> CoordinatorHttpHandlers(
    const Coordinator* core,
    std::vector<std::shared_ptr<const prometheus::Collectable>> metrics = {});

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_
