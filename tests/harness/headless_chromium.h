// Headless Chromium (Debian's `chromium`) for tests of the coordinator's
// status page: loads a page from 127.0.0.1, lets its JavaScript fetch and
// render, and returns the resulting DOM or writes a screenshot.
//
// Chromium runs as its own process group (tests/harness/process.h) with a
// fresh profile under TEST_TMPDIR, without its sandbox (it will not start one
// as root), and reaches only loopback: no host name resolves, anything not on
// loopback goes to a closed proxy port, and its background services are off.
// Not thread-safe (one test thread).
#ifndef SLOTKEEPER_TESTS_HARNESS_HEADLESS_CHROMIUM_H_
#define SLOTKEEPER_TESTS_HARNESS_HEADLESS_CHROMIUM_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace slotkeeper::testing {

inline constexpr char kChromiumPath[] = "/usr/bin/chromium";

// OK when kChromiumPath can be run; FAILED_PRECONDITION (naming `tools/dev
// deps`) when not.
absl::Status ChromiumAvailable();

// The DOM of `url` (which must start with "http://127.0.0.1:") after its
// scripts ran for 5 s of virtual time (network fetches complete within it).
// INTERNAL with Chromium's stderr when it fails.
absl::StatusOr<std::string> DumpDom(const std::string& url);

// A PNG of `url` at 1400x1000, written to `png_path`.
absl::Status Screenshot(const std::string& url, const std::string& png_path);

// The start tag of the first element of `dom` with attribute `name` equal to
// `value` (as serialized: `name="value"`), or "" when there is none.
std::string StartTagWith(const std::string& dom, const std::string& name, const std::string& value);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_HARNESS_HEADLESS_CHROMIUM_H_
