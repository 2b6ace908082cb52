// What a binary is: its release version (the repository's VERSION file) and,
// in a stamped build (--stamp; --config=release sets it), the commit it was
// built from and the day it was built. bazel/build_stamp.bzl writes the
// strings; unstamped builds leave commit and date empty so that they stay
// action-cache hits.
//
// Thread-safe: everything here is constant.
#ifndef SLOTKEEPER_BASE_BUILD_INFO_H_
#define SLOTKEEPER_BASE_BUILD_INFO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace slotkeeper {

struct BuildInfo {
  std::string version;     // "0.5.0"
  std::string commit;      // "1a2b3c4d" (or "1a2b3c4d-dirty"); empty when unstamped
  std::string build_date;  // "2026-12-02" (UTC); empty when unstamped
};

// This binary's build.
BuildInfo ThisBuild();

// The --version line of every binary, GNU style (help2man reads it):
//   "slotmgrd 0.5.0 (commit 1a2b3c4d, built 2026-12-02)"
//   "slotmgrd 0.5.0 (commit unknown (unstamped build))"
std::string VersionLine(absl::string_view program, const BuildInfo& build);

// A one-word version for protocols and listings, as the agent reports it to
// the coordinator: "replicatord/0.5.0", or "replicatord/0.5.0+1a2b3c4d"
// when stamped.
std::string ProductVersion(absl::string_view program, const BuildInfo& build);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_BUILD_INFO_H_
