#include "base/json.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace slotkeeper {

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string JsonQuote(absl::string_view text) { return absl::StrCat("\"", JsonEscape(text), "\""); }

}  // namespace slotkeeper
