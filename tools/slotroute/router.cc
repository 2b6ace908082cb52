#include "tools/slotroute/router.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "tools/slotroute/dict_protocol.h"

namespace slotkeeper::slotroute {

std::string Router::Answer(const std::string& key) {
  absl::StatusOr<PassdbKey> k = ParsePassdbKey(key);
  if (!k.ok()) {
    LogWarning("slotroute", absl::StrCat("lookup refused: ", k.status().message()));
    return NotFoundReply();
  }
  const absl::Duration now = clock_->Monotonic();
  std::optional<MasterRoute> route = table_->Find(k->user);
  const bool fresh =
      route.has_value() && route->usable && now - route->learned_at < options_.refresh_after;
  if (!fresh) {
    absl::StatusOr<v1::UserLocation> location = locator_->Locate(k->user);
    if (location.ok()) {
      if (absl::Status st = table_->Learn(*location, now); !st.ok()) {
        LogWarning("slotroute",
                   absl::StrCat("coordinator's answer for ", k->user, " refused: ", st.message()));
        return FailedReply(absl::StrCat("bad routing answer for ", k->user));
      }
      route = table_->Find(k->user);
    } else if (absl::IsNotFound(location.status())) {
      return NotFoundReply();
    } else if (!route.has_value()) {
      return FailedReply(absl::StrCat("cannot locate ", k->user,
                                      ": coordinator unavailable: ", location.status().message()));
    }
    // Else the cached route stands: the control plane is away, mail goes on.
  }
  if (!route.has_value()) return FailedReply(absl::StrCat("no route for ", k->user));
  absl::StatusOr<std::map<std::string, std::string>> fields =
      ProxyFields(*route, k->service, options_.lmtp_port_offset);
  if (!fields.ok()) return FailedReply(fields.status().message());
  return FoundReply(*fields);
}

}  // namespace slotkeeper::slotroute
