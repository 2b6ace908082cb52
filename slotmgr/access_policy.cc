#include "slotmgr/access_policy.h"

#include <fstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/peer_identity.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

bool ParseRole(absl::string_view text, Role* role) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (text == RoleName(r)) {
      *role = r;
      return true;
    }
  }
  return false;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

AccessPolicy AccessPolicy::Default() {
  AccessPolicy p;
  p.trust_anonymous_ = true;
  return p;
}

absl::StatusOr<AccessPolicy> AccessPolicy::Parse(absl::string_view text, absl::string_view source) {
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than ", kMaxFileBytes, " bytes"));
  }
  AccessPolicy p;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    const std::string where = absl::StrCat(source, " line ", line_no);
    Role role = Role::kNone;
    if (!ParseRole(words[0], &role)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown role \"", absl::CEscape(words[0]), "\" (viewer, operator or admin)"));
    }
    if (words.size() == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": role ", words[0], " names no identity"));
    }
    for (size_t i = 1; i < words.size(); ++i) {
      // An identity is a certificate's DNS name or common name: the cluster's
      // name rule (printable, no spaces or '/', bounded) covers both.
      if (absl::Status st = model::ValidateName(model::NameKind::kHost, words[i]); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": identity: ", st.message()));
      }
      auto [it, added] = p.roles_.emplace(std::string(words[i]), role);
      if (!added && it->second != role) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": identity ", words[i], " is given two roles (",
                         RoleName(it->second), " and ", RoleName(role), ")"));
      }
      if (p.roles_.size() > kMaxIdentities) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": more than ", kMaxIdentities, " identities"));
      }
    }
  }
  return p;
}

absl::StatusOr<AccessPolicy> AccessPolicy::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read access policy ", path));
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return Parse(text, path);
}

Role AccessPolicy::RoleOf(const std::string& identity) const {
  if (identity.empty()) return trust_anonymous_ ? Role::kAdmin : Role::kNone;
  auto it = roles_.find(identity);
  return it == roles_.end() ? Role::kNone : it->second;
}

absl::Status AccessPolicy::Authorize(const std::string& identity, Role needed,
                                     absl::string_view method) const {
  const Role held = RoleOf(identity);
  if (static_cast<int>(held) >= static_cast<int>(needed)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, " needs the ", RoleName(needed),
                                                  " role; caller ", DisplayIdentity(identity),
                                                  " holds ", RoleName(held)));
}

absl::Status AccessPolicy::AuthorizeHost(const std::string& identity, const std::string& host,
                                         absl::string_view method) const {
  if (identity.empty() && trust_anonymous_) return absl::OkStatus();
  if (!identity.empty() && identity == host) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, " for host ", host,
                                                  " needs that host's certificate; caller is ",
                                                  DisplayIdentity(identity)));
}

}  // namespace slotkeeper::slotmgr
