// The bash completion script: derived from the verb table, identical to the
// checked-in tools/slotctl/slotctl.bash-completion, and completing what it
// should when real bash runs it.
#include "tools/slotctl/completion.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string CheckedInPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir == nullptr ? "." : srcdir,
                      "/slotkeeper/tools/slotctl/slotctl.bash-completion");
}

class CompletionTest : public ::testing::Test {
 protected:
  CompletionTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  std::string Script() {
    RunResult r = harness_.Run({"completion", "bash"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(cluster_.calls, IsEmpty()) << "no server needed";
    return r.out;
  }

  // The verbs `slotctl help` lists.
  std::vector<std::string> HelpVerbs() {
    absl::string_view text = harness_.Run({"help"}).out;
    text = text.substr(text.find("Verbs:\n") + 7);
    text = text.substr(0, text.find("\n\n"));
    std::vector<std::string> verbs;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      line = absl::StripLeadingAsciiWhitespace(line);
      verbs.emplace_back(line.substr(0, line.find(' ')));
    }
    return verbs;
  }

  // What bash offers for the command line `words`, the last being the word
  // under the cursor ("" right after a space).
  std::vector<std::string> Complete(const std::vector<std::string>& words) {
    std::string array;
    for (const std::string& w : words) absl::StrAppend(&array, " '", w, "'");
    const std::string script = absl::StrCat("source '", CheckedInPath(), "' && COMP_WORDS=(", array,
                                            ") && COMP_CWORD=", words.size() - 1,
                                            " && _slotctl && printf '%s\\n' \"${COMPREPLY[@]}\"");
    const std::string command = absl::StrCat("bash --norc --noprofile -c \"$SCRIPT\"");
    setenv("SCRIPT", script.c_str(), 1);
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while (pipe != nullptr && (n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    EXPECT_EQ(pipe == nullptr ? -1 : pclose(pipe), 0) << script;
    return absl::StrSplit(absl::StripSuffix(out, "\n"), '\n', absl::SkipEmpty());
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(CompletionTest, CheckedInScriptIsWhatTheTableGenerates) {
  EXPECT_EQ(ReadFile(CheckedInPath()), Script())
      << "tools/slotctl/slotctl.bash-completion is out of date; regenerate it with\n"
         "  bazel run //tools/slotctl:slotctl -- completion bash > "
         "tools/slotctl/slotctl.bash-completion";
}

TEST_F(CompletionTest, EveryVerbAndFlagOfTheHelpIsInTheScript) {
  const std::string script = Script();
  const std::vector<std::string> verbs = HelpVerbs();
  ASSERT_GT(verbs.size(), 15u);
  for (const std::string& verb : verbs) {
    EXPECT_THAT(script, HasSubstr(absl::StrCat("        ", verb, ") flags='"))) << verb;
    const std::string help = harness_.Run({"help", verb}).out;
    const size_t flags = help.find("\nFlags:\n");
    if (flags == std::string::npos) continue;
    for (absl::string_view line : absl::StrSplit(help.substr(flags + 8), '\n')) {
      line = absl::StripLeadingAsciiWhitespace(line);
      if (!absl::StartsWith(line, "--")) break;
      const std::string flag(line.substr(0, line.find(' ')));
      EXPECT_THAT(script, HasSubstr(flag)) << verb << " " << flag;
    }
  }
  EXPECT_THAT(script,
              HasSubstr(absl::StrCat("local verbs='", absl::StrJoin(verbs, " "), " help'")));
}

TEST(SubVerbsTest, LiteralSecondWordsOfTheUsageLines) {
  VerbDef store{"store",
                {"store STORE", "store create STORE --master HOST/SLOT",
                 "store reconcile STORE [--from HOST/SLOT]", "store create STORE --copies N"},
                "",
                "",
                {},
                1,
                2,
                nullptr};
  EXPECT_THAT(SubVerbs(store), ElementsAre("create", "reconcile"));
  VerbDef events{"events", {"events [--since DURATION]", "events --follow"}, "", "", {}, 0, 0,
                 nullptr};
  EXPECT_THAT(SubVerbs(events), IsEmpty());
  VerbDef drain{"drain", {"drain HOST[/UNIT] [--reason TEXT]"}, "", "", {}, 1, 1, nullptr};
  EXPECT_THAT(SubVerbs(drain), IsEmpty());
}

TEST_F(CompletionTest, BashCompletesVerbsSubVerbsFlagsAndValues) {
  EXPECT_THAT(Complete({"slotctl", "qu"}), ElementsAre("quarantine"));
  EXPECT_THAT(Complete({"slotctl", "st"}), UnorderedElementsAre("status", "stores", "store"));
  EXPECT_THAT(Complete({"slotctl", "quarantine", ""}),
              UnorderedElementsAre("list", "show", "restore", "purge"));
  EXPECT_THAT(Complete({"slotctl", "automation", "p"}), ElementsAre("pause"));
  // A global flag's value is not taken for the verb.
  EXPECT_THAT(Complete({"slotctl", "--server", "127.0.0.1:7300", "mark"}),
              ElementsAre("mark-lost"));
  EXPECT_THAT(Complete({"slotctl", "--server", "=", "127.0.0.1:7300", "unit", ""}),
              ElementsAre("reinstate"));
  EXPECT_THAT(Complete({"slotctl", "--js"}), ElementsAre("--json"));
  EXPECT_THAT(Complete({"slotctl", "mark-lost", "--f"}), ElementsAre("--force"));
  EXPECT_THAT(Complete({"slotctl", "status", "--col"}), ElementsAre("--color"));
  EXPECT_THAT(Complete({"slotctl", "status", "--color", ""}),
              UnorderedElementsAre("always", "never", "auto"));
  EXPECT_THAT(Complete({"slotctl", "status", "--color", "=", "a"}),
              UnorderedElementsAre("always", "auto"));
  EXPECT_THAT(Complete({"slotctl", "incident", "--format", ""}),
              UnorderedElementsAre("markdown", "json"));
  EXPECT_THAT(Complete({"slotctl", "help", "fail"}), ElementsAre("failover"));
  EXPECT_THAT(Complete({"slotctl", "completion", ""}), ElementsAre("bash"));
  // After a sub-verb, no more sub-verbs; a free value gets nothing.
  EXPECT_THAT(Complete({"slotctl", "store", "create", "c"}), IsEmpty());
  EXPECT_THAT(Complete({"slotctl", "events", "--since", ""}), IsEmpty());
}

TEST_F(CompletionTest, OnlyBash) {
  RunResult r = harness_.Run({"completion", "zsh"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("no completion for shell \"zsh\" (only bash)"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
