// An independent oracle for "no message lost": reads slot directories
// straight from disk (not through the data path under test) and compares
// their users' content.
//
// A Maildir message is identified by its unique name (the basename before
// ":2,") and its content hash, so a flag change or a move between folders is
// not a difference; other files are identified by their path.
#ifndef SLOTKEEPER_TESTS_HARNESS_MAIL_CHECK_H_
#define SLOTKEEPER_TESTS_HARNESS_MAIL_CHECK_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slotkeeper::testing {

// user -> (message key -> content hash, hex)
using SlotContent = std::map<std::string, std::map<std::string, std::string>>;

// Reads `<slot>/users/*`. Skips Maildir tmp/ and dot-directories at the
// user level that are not Maildir folders (.quarantine lives at slot level
// and is not read).
absl::StatusOr<SlotContent> ReadSlotContent(const std::string& slot_dir);

// The messages of `expected` that `actual` lacks or holds with other
// content, one line each ("user: key missing" / "user: key differs").
// `actual` may hold more (mail delivered after the snapshot).
std::vector<std::string> MissingFrom(const SlotContent& expected, const SlotContent& actual);

size_t MessageCount(const SlotContent& content);

// user -> content hashes (hex) of every file under `<slot>/.quarantine`
// (<DAY>/<user>/<path>), however many times a content is there.
using QuarantineContent = std::map<std::string, std::multiset<std::string>>;
absl::StatusOr<QuarantineContent> ReadQuarantineContent(const std::string& slot_dir);

// The messages of `expected` that are neither in `live` (same key and
// content) nor anywhere in `quarantine` for the same user (same content):
// what a copy lost for good. One line each, as MissingFrom.
std::vector<std::string> LostFrom(const SlotContent& expected, const SlotContent& live,
                                  const QuarantineContent& quarantine);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_HARNESS_MAIL_CHECK_H_
