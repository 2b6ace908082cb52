#!/usr/bin/env bash
# Bazel's --workspace_status_command (.bazelrc, --config=release): the keys a
# stamped build reads (bazel/build_stamp.bzl). STABLE_ keys go to
# stable-status.txt; a change in them rebuilds what is stamped.
#   STABLE_GIT_COMMIT  the checked-out commit's first 8 hex digits, with
#                      "-dirty" when tracked files differ from it
# Outside a git checkout it prints nothing, and a stamped build fails saying so.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
commit="$(git rev-parse --short=8 HEAD 2>/dev/null)" || exit 0
if ! git diff --quiet HEAD -- 2>/dev/null; then commit="$commit-dirty"; fi
echo "STABLE_GIT_COMMIT $commit"
