// The status page that slotmgrd serves on its HTTP port (http_handlers.h):
//
//   /              one self-contained HTML page (its CSS and JavaScript
//                  inline, nothing fetched from elsewhere) that polls the
//                  two endpoints below and redraws itself: the mail-safety
//                  headline of `slotctl status`, hosts and drive units by
//                  state, stores and their copies, re-replication progress,
//                  the latest events and the incident write-up
//   /api/status    status_json.h's StatusJson: the cluster now
//   /api/incident  the write-up of `slotctl incident` (tools/slotctl/
//                  incident.h) over ?since=DURATION (default 6h, at most 7d)
//
// Read-only, like everything on that port. The page puts every name and text
// it receives into the document as text (never as markup): host, store and
// user names and event texts come from agents and operators.
#ifndef SLOTKEEPER_SLOTMGR_STATUS_PAGE_H_
#define SLOTKEEPER_SLOTMGR_STATUS_PAGE_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "base/http_server.h"
#include "slotmgr/queries.h"

namespace slotkeeper::slotmgr {

// The events /api/status lists.
inline constexpr size_t kStatusPageEvents = 50;

// Adds the page and its endpoints to `handlers`. `queries` is not owned and
// must outlive the server; the handlers are thread-safe.
void AddStatusPage(const Queries* queries, std::map<std::string, HttpHandler>* handlers);

// The page itself (status_page/index.html, compiled in).
absl::string_view StatusPageHtml();

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_STATUS_PAGE_H_
