#include "base/sighup.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/tls.h"

namespace slotkeeper {

bool ReloadOnSighup(absl::string_view component, absl::string_view not_reloaded) {
  const std::string tail = not_reloaded.empty() ? "" : absl::StrCat(" (", not_reloaded, ")");
  std::shared_ptr<TransportSecurity> security = ProcessTransportSecurity();
  if (!security->is_tls()) {
    LogInfo(component, absl::StrCat("SIGHUP: nothing to re-read: ", security->Describe(), tail));
    return true;
  }
  if (absl::Status s = security->Reload(); !s.ok()) {
    LogError(component,
             absl::StrCat("SIGHUP: keeping the TLS files read before: ", s.message(), tail));
    return false;
  }
  LogInfo(component, absl::StrCat("SIGHUP: re-read ", security->Describe(), tail));
  return true;
}

}  // namespace slotkeeper
