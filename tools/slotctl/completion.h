// Bash completion for slotctl, generated from the same verb and flag tables
// that `slotctl help` prints, so that the two cannot disagree.
//
// `slotctl completion bash` prints it; tools/slotctl/slotctl.bash-completion
// is that output, checked in for packaging (installed as
// /usr/share/bash-completion/completions/slotctl) and compared with the
// tables by completion_test. Everything here is pure.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_COMPLETION_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_COMPLETION_H_

#include <string>
#include <vector>

#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {

// The sub-verbs of `verb`: the second word of its usage lines where that is
// a literal word ("store create STORE" gives "create"; "store STORE" and
// "events --follow" give none), in order, without repeats.
std::vector<std::string> SubVerbs(const VerbDef& verb);

// The script: completes global flags and verbs, then a verb's sub-verbs and
// flags (its own and the global ones), and the values of flags whose value
// is a choice ("always|never|auto") or a FILE. `help` completes verb names.
std::string BashCompletion(const std::vector<VerbDef>& verbs,
                           const std::vector<FlagSpec>& global_flags);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_COMPLETION_H_
