// The command line every Slotkeeper binary with Abseil flags shares:
// `--version` and `--help` answered the same way everywhere, in the form
// help2man reads (the Debian packages' man pages are generated from them),
// and everything else parsed by absl::ParseCommandLine.
//
//   --version  prints VersionLine (base/build_info.h) and exits 0
//   --help     prints the usage text, then "Options:" with one line per flag
//              of this binary ("  --name=VALUE  help (default: X)"; of
//              Abseil's own flags only --flagfile, the rest are --helpfull's),
//              and exits 0
//
// Abseil's own --help exits 1 and prints flags in a layout help2man cannot
// split into options, and its --version prints the build mode; hence this.
#ifndef SLOTKEEPER_BASE_COMMAND_LINE_H_
#define SLOTKEEPER_BASE_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace slotkeeper {

// One flag as --help shows it.
struct FlagHelp {
  std::string name;
  std::string value_name;  // "N", "DURATION", ...; empty for a boolean
  std::string help;
  std::string default_value;
};

// The --help text: `usage`, a blank line, "Options:" and the flags in the
// order given, then --help and --version. Pure.
std::string FormatHelp(absl::string_view usage, const std::vector<FlagHelp>& flags);

// The flags linked into this binary, sorted by name, without Abseil's own.
std::vector<FlagHelp> ProgramFlags();

// Answers --version and --help (which exit the process with 0), or parses
// the command line with absl::ParseCommandLine and returns what it returns
// (the program name and the positional arguments). `usage` is also given to
// absl::SetProgramUsageMessage for --helpfull. Call first thing in main().
std::vector<char*> ParseCommandLineOrExit(int argc, char** argv, absl::string_view program,
                                          absl::string_view usage);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_COMMAND_LINE_H_
