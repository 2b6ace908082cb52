// Fuzz target: the agent's config parser (replicator/config.h). Any text is
// parsed and validated; a config that is accepted must hold what the
// validation promises (valid names, slots inside their filesystems, no two
// slots nested) and must be accepted again, unchanged, once printed.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "proto/model_util.h"
#include "replicator/config.h"

namespace slotkeeper::fuzz {
namespace {

using model::NameKind;
using replicator::AgentConfig;

void CheckAccepted(const AgentConfig& c) {
  FUZZ_CHECK(model::ValidateName(NameKind::kHost, c.host()).ok(), "host %s", c.host().c_str());
  for (const auto& u : c.units()) {
    FUZZ_CHECK(model::ValidateName(NameKind::kUnit, u.name()).ok(), "unit %s", u.name().c_str());
  }
  for (int i = 0; i < c.slots_size(); ++i) {
    const auto& s = c.slots(i);
    FUZZ_CHECK(model::ValidateName(NameKind::kSlot, s.name()).ok(), "slot %s", s.name().c_str());
    FUZZ_CHECK(replicator::PathIsInside(s.path(), s.filesystem()) && s.path() != s.filesystem(),
               "slot %s at %s outside %s", s.name().c_str(), s.path().c_str(),
               s.filesystem().c_str());
    for (int j = 0; j < i; ++j) {
      FUZZ_CHECK(!replicator::PathIsInside(s.path(), c.slots(j).path()) &&
                     !replicator::PathIsInside(c.slots(j).path(), s.path()),
                 "slots %s and %s nested", s.path().c_str(), c.slots(j).path().c_str());
    }
  }
  std::string printed;
  FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(c, &printed), "print failed");
  absl::StatusOr<AgentConfig> again = replicator::ParseConfig(printed, "printed");
  FUZZ_CHECK(again.ok(), "printed config refused: %s", again.status().ToString().c_str());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(c, *again),
             "printed config parses differently");
}

}  // namespace
}  // namespace slotkeeper::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<slotkeeper::replicator::AgentConfig> c =
      slotkeeper::replicator::ParseConfig(text, "fuzz");
  if (c.ok()) slotkeeper::fuzz::CheckAccepted(*c);
  return 0;
}
