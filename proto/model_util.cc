#include "proto/model_util.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace slotkeeper::model {
namespace {

// "HOST_UP" minus `prefix`, lower-cased, '_' -> '-'.
std::string ShortName(const std::string& full, absl::string_view prefix) {
  if (full.empty() || absl::EndsWith(full, "UNSPECIFIED")) return "unknown";
  absl::string_view s = full;
  if (absl::StartsWith(s, prefix)) s.remove_prefix(prefix.size());
  std::string out = absl::AsciiStrToLower(s);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

const char* KindName(NameKind kind) {
  switch (kind) {
    case NameKind::kHost:
      return "host name";
    case NameKind::kUnit:
      return "drive unit name";
    case NameKind::kSlot:
      return "slot name";
    case NameKind::kStore:
      return "store name";
    case NameKind::kUser:
      return "user name";
  }
  return "name";
}

// The name as shown in an error: quoted, at most 64 bytes, non-printable
// bytes as \xNN so that a hostile name cannot forge log lines.
std::string Quoted(absl::string_view name) {
  std::string out = "\"";
  for (size_t i = 0; i < name.size() && i < 64; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > 64) out += "...";
  out += "\"";
  return out;
}

}  // namespace

std::string SlotName(const v1::SlotRef& ref) { return absl::StrCat(ref.host(), "/", ref.slot()); }

bool SameSlot(const v1::SlotRef& a, const v1::SlotRef& b) {
  return a.host() == b.host() && a.slot() == b.slot();
}

std::string Name(v1::HostState s) { return ShortName(v1::HostState_Name(s), "HOST_"); }
std::string Name(v1::UnitState s) { return ShortName(v1::UnitState_Name(s), "UNIT_"); }
std::string Name(v1::FilesystemState s) { return ShortName(v1::FilesystemState_Name(s), "FS_"); }
std::string Name(v1::SlotRole r) { return ShortName(v1::SlotRole_Name(r), "SLOT_"); }
std::string Name(v1::StoreState s) { return ShortName(v1::StoreState_Name(s), "STORE_"); }
std::string Name(v1::TaskKind k) { return ShortName(v1::TaskKind_Name(k), "TASK_"); }
std::string Name(v1::TaskState s) { return ShortName(v1::TaskState_Name(s), "TASK_"); }
std::string Name(v1::ConditionType t) { return ShortName(v1::ConditionType_Name(t), ""); }
std::string Name(v1::SubjectKind k) { return ShortName(v1::SubjectKind_Name(k), "SUBJECT_"); }
std::string Name(v1::EventSeverity s) { return ShortName(v1::EventSeverity_Name(s), ""); }
std::string Name(v1::AutomationMode m) {
  return ShortName(v1::AutomationMode_Name(m), "AUTOMATION_");
}

absl::Status ValidateName(NameKind kind, absl::string_view name) {
  return ValidateNameAs(KindName(kind), name);
}

absl::Status ValidateNameAs(absl::string_view what, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", Quoted(name), " is longer than ", kMaxNameBytes, " bytes"));
  }
  if (name[0] == '.' || name[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", Quoted(name), " starts with '", name.substr(0, 1), "'"));
  }
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", Quoted(name), " contains ",
                       c == ' ' ? std::string("a space") : absl::StrFormat("the byte 0x%02x", c),
                       " (printable ASCII only, no spaces)"));
    }
    if (c == '/') {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", Quoted(name), " contains '/'"));
    }
  }
  return absl::OkStatus();
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return ms == 0 ? "0s" : absl::StrCat(ms, "ms");
  int64_t s = ms / 1000;
  if (s < 60) return absl::StrCat(s, "s");
  int64_t m = s / 60;
  if (m < 60) return absl::StrCat(m, "m");
  int64_t h = m / 60;
  if (h < 24) return m % 60 ? absl::StrCat(h, "h", m % 60, "m") : absl::StrCat(h, "h");
  int64_t d = h / 24;
  return h % 24 ? absl::StrCat(d, "d", h % 24, "h") : absl::StrCat(d, "d");
}

bool IsHardConditionType(v1::ConditionType type) {
  switch (type) {
    case v1::READ_ONLY:
    case v1::IO_ERROR:
    case v1::HUNG_IO:
    case v1::NOT_MOUNTED:
    case v1::UNIT_OFFLINE:
      return true;
    default:
      return false;
  }
}

bool IsServingRole(v1::SlotRole role) {
  return role == v1::SLOT_MASTER || role == v1::SLOT_REPLICA;
}

bool IsUsableCopy(const v1::Copy& copy) { return copy.usable() && IsServingRole(copy.role()); }

int CountUsableCopies(const v1::StoreInfo& store) {
  int n = 0;
  for (const v1::Copy& c : store.copies()) n += IsUsableCopy(c);
  return n;
}

bool IsTaskFinished(v1::TaskState state) {
  return state == v1::TASK_DONE || state == v1::TASK_FAILED || state == v1::TASK_CANCELLED;
}

}  // namespace slotkeeper::model
