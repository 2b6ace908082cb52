#include "base/command_line.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, command_line_test_copies, 3, "copies of a store");

namespace slotkeeper {
namespace {

TEST(CommandLineTest, HelpHasUsageThenOneEntryPerOption) {
  const std::string help =
      FormatHelp("Usage: slotmgrd [OPTION]...\nThe coordinator.",
                 {{"listen", "VALUE", "gRPC address", "127.0.0.1:7300"},
                  {"enable_reflection", "", "serve gRPC reflection", "false"}});
  EXPECT_EQ(help,
            "Usage: slotmgrd [OPTION]...\nThe coordinator.\n\n"
            "Options:\n"
            "  --listen=VALUE\n      gRPC address (default: 127.0.0.1:7300)\n"
            "  --enable_reflection\n      serve gRPC reflection (default: false)\n"
            "  --help\n      print this help and exit\n"
            "  --version\n      print the version and exit\n");
}

TEST(CommandLineTest, ProgramFlagsListOursAndNotAbseils) {
  const std::vector<FlagHelp> flags = ProgramFlags();
  auto named = [&flags](const std::string& name) {
    return std::find_if(flags.begin(), flags.end(),
                        [&name](const FlagHelp& f) { return f.name == name; });
  };
  auto ours = named("command_line_test_copies");
  ASSERT_NE(ours, flags.end());
  EXPECT_EQ(ours->value_name, "N");
  EXPECT_EQ(ours->help, "copies of a store");
  EXPECT_EQ(ours->default_value, "3");
  EXPECT_EQ(named("undefok"), flags.end()) << "Abseil's own flags belong to --helpfull";
  EXPECT_NE(named("flagfile"), flags.end()) << "the units pass the daemons' flags with it";
}

}  // namespace
}  // namespace slotkeeper
