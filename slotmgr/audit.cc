#include "slotmgr/audit.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"
#include "slotmgr/journal.h"

namespace slotkeeper::slotmgr {
namespace {

// A top-level string field of `request` named `name`, or "".
std::string StringField(const google::protobuf::Message& request, const char* name) {
  const google::protobuf::FieldDescriptor* f = request.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->is_repeated() ||
      f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return "";
  }
  return request.GetReflection()->GetString(request, f);
}

// The request on one line, cut at kMaxRequestText bytes.
std::string RequestText(const google::protobuf::Message& request) {
  std::string text = request.ShortDebugString();
  if (text.size() > kMaxRequestText) {
    text.resize(kMaxRequestText);
    text += "... (cut)";
  }
  return text;
}

}  // namespace

v1::Event AuditEvent(const std::string& actor, absl::string_view method,
                     const google::protobuf::Message& request, const absl::Status& outcome) {
  const bool denied = outcome.code() == absl::StatusCode::kPermissionDenied;
  const std::string result = outcome.ok()
                                 ? "OK"
                                 : absl::StrCat(absl::StatusCodeToString(outcome.code()), ": ",
                                                outcome.message().substr(0, kMaxRequestText));
  v1::Event e = MakeEvent(
      denied ? event_kind::kAuditDenied : event_kind::kAuditCall, denied ? v1::WARNING : v1::INFO,
      absl::StrCat(actor, " called ", method, " {", RequestText(request), "}: ", result),
      StringField(request, "host"), StringField(request, "slot"), StringField(request, "store"),
      /*task=*/"", StringField(request, "unit"));
  e.set_actor(actor);
  return e;
}

}  // namespace slotkeeper::slotmgr
