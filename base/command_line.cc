#include "base/command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/build_info.h"

namespace slotkeeper {
namespace {

std::string ValueName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>() || flag.IsOfType<uint64_t>() ||
      flag.IsOfType<int32_t>() || flag.IsOfType<uint32_t>()) {
    return "N";
  }
  if (flag.IsOfType<double>()) return "NUMBER";
  if (flag.IsOfType<absl::Duration>()) return "DURATION";
  return "VALUE";
}

// The first argument before "--" that is exactly `name`.
bool HasArg(int argc, char** argv, absl::string_view name) {
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") return false;
    if (absl::string_view(argv[i]) == name) return true;
  }
  return false;
}

}  // namespace

std::string FormatHelp(absl::string_view usage, const std::vector<FlagHelp>& flags) {
  std::string out = absl::StrCat(usage, "\n\nOptions:\n");
  auto add = [&out](const FlagHelp& f) {
    absl::StrAppend(&out, "  --", f.name);
    if (!f.value_name.empty()) absl::StrAppend(&out, "=", f.value_name);
    absl::StrAppend(&out, "\n      ", f.help);
    if (!f.default_value.empty()) absl::StrAppend(&out, " (default: ", f.default_value, ")");
    absl::StrAppend(&out, "\n");
  };
  for (const FlagHelp& f : flags) add(f);
  add({"help", "", "print this help and exit", ""});
  add({"version", "", "print the version and exit", ""});
  return out;
}

std::vector<FlagHelp> ProgramFlags() {
  std::vector<FlagHelp> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    // Abseil's own flags ("./absl/flags/parse.cc") are --helpfull's, except
    // --flagfile: the systemd units pass the daemons' flags with it.
    const bool abseils = absl::StrContains(flag->Filename(), "absl/flags/");
    if (abseils && name != "flagfile") continue;
    flags.push_back({std::string(name), ValueName(*flag), flag->Help(), flag->DefaultValue()});
  }
  std::sort(flags.begin(), flags.end(),
            [](const FlagHelp& a, const FlagHelp& b) { return a.name < b.name; });
  return flags;
}

std::vector<char*> ParseCommandLineOrExit(int argc, char** argv, absl::string_view program,
                                          absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  if (HasArg(argc, argv, "--version")) {
    std::printf("%s\n", VersionLine(program, ThisBuild()).c_str());
    std::exit(0);
  }
  if (HasArg(argc, argv, "--help")) {
    std::fputs(FormatHelp(usage, ProgramFlags()).c_str(), stdout);
    std::exit(0);
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace slotkeeper
