// JSON string quoting for the hand-written JSON of the logs and slotctl.
#ifndef SLOTKEEPER_BASE_JSON_H_
#define SLOTKEEPER_BASE_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace slotkeeper {

// The body of a JSON string (without the quotes) holding `text`: quotes,
// backslashes and control characters escaped; other bytes kept as they are.
std::string JsonEscape(absl::string_view text);

// `text` as a quoted JSON string.
std::string JsonQuote(absl::string_view text);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_JSON_H_
