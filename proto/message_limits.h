// Size limits on messages from the outside: every string at any depth of a
// message, and every repeated field, is bounded.
//
// gRPC bounds a whole message (slotmgrd takes at most 4 MiB); this bounds
// its parts, so that no field a peer fills in can make the receiver keep,
// journal or show megabytes (a condition text of 1 MB, a reason of 1 MB
// copied into every event about it). One walk over the message by
// reflection covers every field, including fields added later.
#ifndef SLOTKEEPER_PROTO_MESSAGE_LIMITS_H_
#define SLOTKEEPER_PROTO_MESSAGE_LIMITS_H_

#include <google/protobuf/message.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slotkeeper {

struct MessageLimits {
  // A condition's evidence, a hook's output tail (4 KiB) and an error text
  // fit; anything longer is not text for people.
  size_t max_string_bytes = 8192;
  // Users of one slot, files of one manifest: generous, still bounded.
  size_t max_repeated = 1000000;
};

// OK when `message` stays within `limits`; otherwise INVALID_ARGUMENT naming
// the field by its path under `name` ("report.conditions[3].reason is
// 1048576 bytes, at most 8192").
absl::Status CheckMessageLimits(const google::protobuf::Message& message,
                                const MessageLimits& limits, absl::string_view name);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_PROTO_MESSAGE_LIMITS_H_
