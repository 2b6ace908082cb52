// What slotmgrd serves on its HTTP port (base/http_server.h): read-only
// pages for operators and monitoring, built on the coordinator's queries.
//
//   /healthz   "ok" once the state is loaded and the gRPC server is serving
#ifndef SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_
#define SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_

#include <map>
#include <string>

#include "base/http_server.h"
#include "slotmgr/coordinator.h"

namespace slotkeeper::slotmgr {

// The pages, keyed by path. `core` is not owned and must outlive the server
// that serves them.
std::map<std::string, HttpHandler> CoordinatorHttpHandlers(const Coordinator* core);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_HTTP_HANDLERS_H_
