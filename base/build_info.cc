#include "base/build_info.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper {
namespace build_stamp {
// Defined in the generated build_stamp.cc (bazel/write_build_stamp.sh).
extern const char kVersion[];
extern const char kCommit[];
extern const char kBuildDate[];
}  // namespace build_stamp

BuildInfo ThisBuild() {
  return {build_stamp::kVersion, build_stamp::kCommit, build_stamp::kBuildDate};
}

std::string VersionLine(absl::string_view program, const BuildInfo& build) {
  if (build.commit.empty()) {
    return absl::StrCat(program, " ", build.version, " (commit unknown (unstamped build))");
  }
  return absl::StrCat(program, " ", build.version, " (commit ", build.commit, ", built ",
                      build.build_date.empty() ? "unknown" : build.build_date, ")");
}

std::string ProductVersion(absl::string_view program, const BuildInfo& build) {
  std::string out = absl::StrCat(program, "/", build.version);
  if (!build.commit.empty()) absl::StrAppend(&out, "+", build.commit);
  return out;
}

}  // namespace slotkeeper
