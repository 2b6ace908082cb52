#include "tests/harness/headless_chromium.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs Chromium on `url` with `args`; returns its stdout.
absl::StatusOr<std::string> RunChromium(const std::string& url,
                                        const std::vector<std::string>& args) {
  if (!absl::StartsWith(url, "http://127.0.0.1:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("headless Chromium loads only http://127.0.0.1:PORT/..., not ", url));
  }
  if (absl::Status st = ChromiumAvailable(); !st.ok()) return st;
  static int runs = 0;
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  const std::string base =
      absl::StrCat(tmpdir != nullptr ? tmpdir : "/tmp", "/chromium-", getpid(), "-", ++runs);
  const std::string out_path = base + ".out";
  const std::string err_path = base + ".err";
  // stdout (the DOM) and stderr (Chromium's logging) apart.
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   absl::StrCat("exec \"$0\" \"$@\" 2>>'", err_path, "'"),
                                   kChromiumPath,
                                   "--headless=new",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   absl::StrCat("--user-data-dir=", base, "-profile"),
                                   "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                                   "--proxy-server=127.0.0.1:9",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-extensions",
                                   "--disable-default-apps",
                                   "--disable-domain-reliability",
                                   "--disable-breakpad",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--virtual-time-budget=5000"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  Process chromium;
  if (absl::Status st = chromium.Start(argv, out_path, {{"HOME", base + "-home"}}); !st.ok()) {
    return st;
  }
  absl::StatusOr<int> code = chromium.Wait(absl::Seconds(120));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat("chromium exited with ", *code, "; its stderr:\n",
                                            ReadFile(err_path).substr(0, 3000)));
  }
  return ReadFile(out_path);
}

}  // namespace

absl::Status ChromiumAvailable() {
  if (access(kChromiumPath, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kChromiumPath, " is missing: tools/dev deps installs the chromium package"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DumpDom(const std::string& url) {
  return RunChromium(url, {"--dump-dom"});
}

absl::Status Screenshot(const std::string& url, const std::string& png_path) {
  absl::StatusOr<std::string> out =
      RunChromium(url, {absl::StrCat("--screenshot=", png_path), "--window-size=1400,1000"});
  return out.status();
}

std::string StartTagWith(const std::string& dom, const std::string& name,
                         const std::string& value) {
  const size_t at = dom.find(absl::StrCat(" ", name, "=\"", value, "\""));
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at);
  const size_t close = dom.find('>', at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return dom.substr(open, close - open + 1);
}

}  // namespace slotkeeper::testing
