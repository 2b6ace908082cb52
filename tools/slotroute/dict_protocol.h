// Dovecot's dict protocol (v3, Dovecot 2.3.17 and later), the server side of
// the two commands a passdb lookup sends over the dict's UNIX socket:
//
//   H3 <TAB> <minor> <TAB> <value type> <TAB> <user> <TAB> <dict name> LF
//   L<key> <TAB> <user> LF
//
// answered with "O<value>" (found), "N" (not found) or "F<error>" (failed: the
// passdb lookup fails temporarily, so an IMAP client is told to retry and an
// LMTP client gets a 4xx reply). Fields are tab-escaped (\001 then 0, 1, t, r
// or n). Pure functions; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTROUTE_DICT_PROTOCOL_H_
#define SLOTKEEPER_TOOLS_SLOTROUTE_DICT_PROTOCOL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slotkeeper::slotroute {

inline constexpr int kDictMajorVersion = 3;
// Longest command line the server reads (Dovecot's own limit).
inline constexpr size_t kMaxDictLine = 64 * 1024;

struct DictCommand {
  enum class Kind { kHello, kLookup };
  Kind kind = Kind::kHello;
  std::string key;   // kLookup: the key, unescaped ("shared/passdb/imap/alice")
  int major = 0;     // kHello
  std::string dict;  // kHello: the dict's name
};

// One command line, without its LF. INVALID_ARGUMENT names what is wrong (an
// unknown command, a hello of another major version, a bad escape);
// UNIMPLEMENTED for commands this read-only server does not serve (iterate,
// set, transactions).
absl::StatusOr<DictCommand> ParseDictCommand(absl::string_view line);

// What a passdb lookup is about: "shared/passdb/<service>/<user>", where the
// front proxy's dict-passdb config sets `password_key = passdb/%s/%u`. The
// service is "imap" or "lmtp"; the user follows the cluster's name rule
// (model::ValidateName). INVALID_ARGUMENT names the problem.
struct PassdbKey {
  std::string service;
  std::string user;
};
absl::StatusOr<PassdbKey> ParsePassdbKey(absl::string_view key);

// Dovecot's tab-escaping, both ways. Unescape fails on \001 at the end.
std::string TabEscape(absl::string_view text);
absl::StatusOr<std::string> TabUnescape(absl::string_view text);

// Replies, each ending in LF. `fields` become one JSON object of strings
// (the passdb's extra fields: proxy, host, port, nopassword).
std::string FoundReply(const std::map<std::string, std::string>& fields);
std::string NotFoundReply();
std::string FailedReply(absl::string_view error);

}  // namespace slotkeeper::slotroute

#endif  // SLOTKEEPER_TOOLS_SLOTROUTE_DICT_PROTOCOL_H_
