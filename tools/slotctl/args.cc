#include "tools/slotctl/args.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/duration.h"
#include "proto/model_util.h"

namespace slotkeeper::slotctl {
namespace {

std::string ForVerb(absl::string_view context) {
  return context.empty() ? "" : absl::StrCat(" for \"", context, "\"");
}

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs, absl::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool IsNameChar(char c, bool allow_at) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         (allow_at && c == '@');
}

}  // namespace

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& specs, absl::string_view context,
                                     bool stop_at_positional) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h") {
      parsed.flags["help"] = "true";
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (stop_at_positional) {
        parsed.positional.assign(args.begin() + i, args.end());
        break;
      }
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg[1] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag \"", arg, "\"", ForVerb(context), " (flags are --NAME)"));
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    std::string name(body);
    std::string value;
    bool has_inline_value = false;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_inline_value = true;
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, ForVerb(context)));
    }
    if (parsed.flags.count(name) > 0) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given twice"));
    }
    if (spec->takes_value) {
      if (!has_inline_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " needs a value (", spec->value_name, ")"));
        }
        value = args[++i];
      }
      if (value.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a non-empty value (", spec->value_name, ")"));
      }
    } else if (has_inline_value) {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "flag --", name, " is a switch: give it alone or as --", name, "=true/false"));
      }
      if (value == "false") continue;
      value = "true";
    } else {
      value = "true";
    }
    parsed.flags[name] = value;
  }
  return parsed;
}

absl::Status ValidateName(absl::string_view text, absl::string_view what) {
  return model::ValidateNameAs(what, text);
}

absl::StatusOr<v1::SlotRef> ParseSlotRef(absl::string_view text, absl::string_view what) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", text, "\" is not HOST/NAME (e.g. imap4/s01)"));
  }
  for (absl::string_view part : parts) {
    for (char c : part) {
      if (!IsNameChar(c, /*allow_at=*/false)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " \"", text, "\" has an invalid character '", std::string(1, c),
                         "' (use letters, digits, '.', '_', '-')"));
      }
    }
  }
  v1::SlotRef ref;
  ref.set_host(std::string(parts[0]));
  ref.set_slot(std::string(parts[1]));
  return ref;
}

absl::StatusOr<std::vector<v1::SlotRef>> ParseSlotRefList(absl::string_view text,
                                                          absl::string_view what) {
  std::vector<v1::SlotRef> refs;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    absl::StatusOr<v1::SlotRef> ref = ParseSlotRef(item, what);
    if (!ref.ok()) return ref.status();
    refs.push_back(*std::move(ref));
  }
  return refs;
}

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view what) {
  absl::StatusOr<absl::Duration> d = ::slotkeeper::ParseDuration(text, what);
  if (!d.ok()) return d.status();
  if (*d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be longer than zero"));
  }
  return *d;
}

absl::StatusOr<int> ParseIntInRange(absl::string_view text, int min, int max,
                                    absl::string_view what) {
  int n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < min || n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", text, "\" must be a whole number from ", min, " to ", max));
  }
  return n;
}

}  // namespace slotkeeper::slotctl
