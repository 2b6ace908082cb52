#include "proto/message_limits.h"

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace slotkeeper {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status TooLong(const std::string& path, size_t size, const MessageLimits& limits) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, " is ", size, " bytes, at most ", limits.max_string_bytes));
}

absl::Status Check(const Message& m, const MessageLimits& limits, const std::string& path,
                   int depth) {
  // Protobuf's parser stops at depth 100 already; this keeps the walk's own
  // recursion bounded for messages built in memory.
  if (depth > 64) return absl::InvalidArgumentError(absl::StrCat(path, " is nested too deeply"));
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);  // only fields that are set
  std::string scratch;
  for (const FieldDescriptor* f : fields) {
    const std::string at = absl::StrCat(path, ".", f->name());
    const bool is_string = f->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    const bool is_message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!f->is_repeated()) {
      if (is_string) {
        const std::string& s = r->GetStringReference(m, f, &scratch);
        if (s.size() > limits.max_string_bytes) return TooLong(at, s.size(), limits);
      } else if (is_message) {
        if (absl::Status st = Check(r->GetMessage(m, f), limits, at, depth + 1); !st.ok()) {
          return st;
        }
      }
      continue;
    }
    const int n = r->FieldSize(m, f);
    if (static_cast<size_t>(n) > limits.max_repeated) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " has ", n, " entries, at most ", limits.max_repeated));
    }
    if (!is_string && !is_message) continue;
    for (int i = 0; i < n; ++i) {
      if (is_string) {
        const std::string& s = r->GetRepeatedStringReference(m, f, i, &scratch);
        if (s.size() > limits.max_string_bytes) {
          return TooLong(absl::StrCat(at, "[", i, "]"), s.size(), limits);
        }
      } else if (absl::Status st = Check(r->GetRepeatedMessage(m, f, i), limits,
                                         absl::StrCat(at, "[", i, "]"), depth + 1);
                 !st.ok()) {
        return st;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMessageLimits(const Message& message, const MessageLimits& limits,
                                absl::string_view name) {
  return Check(message, limits, std::string(name), 0);
}

}  // namespace slotkeeper
