#include "slotmgr/http_handlers.h"

namespace slotkeeper::slotmgr {

std::map<std::string, HttpHandler> CoordinatorHttpHandlers(const Coordinator* core) {
  std::map<std::string, HttpHandler> handlers;
  handlers["/healthz"] = [](const HttpRequest&) {
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  };
  (void)core;
  return handlers;
}

}  // namespace slotkeeper::slotmgr
