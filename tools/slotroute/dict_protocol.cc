#include "tools/slotroute/dict_protocol.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/model_util.h"

namespace slotkeeper::slotroute {
namespace {

constexpr char kEscape = '\001';

// JSON string escaping for the reply's values (ASCII control characters as
// \u00XX; everything else passes).
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      absl::StrAppend(&out, "\\u00", std::string(1, kHex[u >> 4]), std::string(1, kHex[u & 15]));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string TabEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\0':
        out += "\0010";
        break;
      case kEscape:
        out += "\0011";
        break;
      case '\t':
        out += "\001t";
        break;
      case '\r':
        out += "\001r";
        break;
      case '\n':
        out += "\001n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::string> TabUnescape(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != kEscape) {
      out.push_back(text[i]);
      continue;
    }
    if (++i == text.size()) return absl::InvalidArgumentError("escape character at the end");
    switch (text[i]) {
      case '0':
        out.push_back('\0');
        break;
      case '1':
        out.push_back(kEscape);
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      default:
        out.push_back(text[i]);
    }
  }
  return out;
}

absl::StatusOr<DictCommand> ParseDictCommand(absl::string_view line) {
  if (line.empty()) return absl::InvalidArgumentError("empty dict command");
  if (line.size() > kMaxDictLine) return absl::InvalidArgumentError("dict command too long");
  const char command = line[0];
  std::vector<absl::string_view> fields = absl::StrSplit(line.substr(1), '\t');
  DictCommand out;
  if (command == 'H') {
    out.kind = DictCommand::Kind::kHello;
    if (fields.size() < 5 || !absl::SimpleAtoi(fields[0], &out.major)) {
      return absl::InvalidArgumentError(
          "dict hello is not H<major>\\t<minor>\\t<type>\\t<user>\\t<dict>");
    }
    if (out.major != kDictMajorVersion) {
      return absl::InvalidArgumentError(absl::StrCat("dict protocol version ", out.major,
                                                     " (this server speaks ", kDictMajorVersion,
                                                     ": Dovecot 2.3.17 or later)"));
    }
    absl::StatusOr<std::string> dict = TabUnescape(fields[4]);
    if (!dict.ok()) return dict.status();
    out.dict = *std::move(dict);
    return out;
  }
  if (command == 'L') {
    out.kind = DictCommand::Kind::kLookup;
    absl::StatusOr<std::string> key = TabUnescape(fields[0]);
    if (!key.ok()) return key.status();
    if (key->empty()) return absl::InvalidArgumentError("dict lookup without a key");
    out.key = *std::move(key);
    return out;
  }
  if (command == 'I' || command == 'B' || command == 'C' || command == 'R' || command == 'S' ||
      command == 'U' || command == 'A' || command == 'T' || command == 'D') {
    return absl::UnimplementedError(
        absl::StrCat("dict command '", std::string(1, command), "' (only lookups are served)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dict command byte ", static_cast<int>(static_cast<uint8_t>(command))));
}

absl::StatusOr<PassdbKey> ParsePassdbKey(absl::string_view key) {
  constexpr absl::string_view kPrefix = "shared/passdb/";
  if (key.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("key does not start with ", kPrefix, " (password_key = passdb/%s/%u)"));
  }
  key.remove_prefix(kPrefix.size());
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError("key is not shared/passdb/<service>/<user>");
  }
  PassdbKey out{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
  if (out.service != "imap" && out.service != "lmtp") {
    return absl::InvalidArgumentError(
        absl::StrCat("service '", absl::CEscape(out.service), "' is neither imap nor lmtp"));
  }
  if (absl::Status st = model::ValidateName(model::NameKind::kUser, out.user); !st.ok()) return st;
  return out;
}

std::string FoundReply(const std::map<std::string, std::string>& fields) {
  std::string json = "{";
  for (const auto& [name, value] : fields) {
    if (json.size() > 1) json += ",";
    absl::StrAppend(&json, JsonString(name), ":", JsonString(value));
  }
  json += "}";
  return absl::StrCat("O", TabEscape(json), "\n");
}

std::string NotFoundReply() { return "N\n"; }

std::string FailedReply(absl::string_view error) {
  return absl::StrCat("F", TabEscape(error), "\n");
}

}  // namespace slotkeeper::slotroute
