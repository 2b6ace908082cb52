// Fuzz target: name and path validation. The input is tried as a name of
// every kind (model::ValidateName), as a user name (sync::ValidateUserName)
// and as a relative path (sync::ValidateRelativePath); whatever is accepted
// must satisfy the rule each function documents, checked here byte by byte.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "proto/model_util.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::fuzz {
namespace {

using model::NameKind;

// model::ValidateName's rule: non-empty, at most kMaxNameBytes, printable
// ASCII without space or '/', not starting with '.' or '-'.
bool IsClusterName(absl::string_view s) {
  if (s.empty() || s.size() > model::kMaxNameBytes) return false;
  if (s[0] == '.' || s[0] == '-') return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '/') return false;
  }
  return true;
}

// sync::ValidateRelativePath's rule (replicator/sync/paths.h).
bool IsRelativePath(absl::string_view path) {
  if (path.empty() || path.size() > sync::kMaxRelativePathBytes) return false;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    if (part.size() > sync::kMaxNameComponentBytes) return false;
    if (absl::StartsWith(part, sync::kTempPrefix)) return false;
  }
  return true;
}

void Check(absl::string_view s) {
  for (NameKind kind :
       {NameKind::kHost, NameKind::kUnit, NameKind::kSlot, NameKind::kStore, NameKind::kUser}) {
    const absl::Status st = model::ValidateName(kind, s);
    FUZZ_CHECK(st.ok() == IsClusterName(s), "ValidateName(kind %d) %s a name against its rule",
               static_cast<int>(kind), st.ok() ? "accepted" : "refused");
    FUZZ_CHECK(st.ok() || !st.message().empty(), "refusal without a message");
  }
  const absl::Status user = sync::ValidateUserName(s);
  FUZZ_CHECK(user.ok() == (IsClusterName(s) && s != "." && s != ".."),
             "ValidateUserName %s a name against its rule", user.ok() ? "accepted" : "refused");
  const absl::Status path = sync::ValidateRelativePath(s);
  FUZZ_CHECK(path.ok() == IsRelativePath(s), "ValidateRelativePath %s a path against its rule",
             path.ok() ? "accepted" : "refused");
  FUZZ_CHECK(path.ok() || !path.message().empty(), "refusal without a message");
  if (user.ok()) {
    FUZZ_CHECK(path.ok(), "a user name that is no relative path");
  }
}

}  // namespace
}  // namespace slotkeeper::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  slotkeeper::fuzz::Check(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
