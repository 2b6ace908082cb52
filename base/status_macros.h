// Early-return helpers for absl::Status / absl::StatusOr (the Kudu and
// Abseil-internal idiom), so that a chain of fallible steps reads as a list.
//
//   SK_RETURN_IF_ERROR(store->Write(batch));
//   SK_ASSIGN_OR_RETURN(Manifest m, client.GetManifest(user));
#ifndef SLOTKEEPER_BASE_STATUS_MACROS_H_
#define SLOTKEEPER_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SK_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define SK_STATUS_MACROS_CONCAT(a, b) SK_STATUS_MACROS_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing
// function when it is not OK.
#define SK_RETURN_IF_ERROR(expr)              \
  do {                                        \
    const ::absl::Status sk_status_ = (expr); \
    if (!sk_status_.ok()) return sk_status_;  \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>) once; returns its status when it
// is not OK, else moves its value into `lhs` (a declaration or an lvalue).
#define SK_ASSIGN_OR_RETURN(lhs, rexpr) \
  SK_ASSIGN_OR_RETURN_IMPL(SK_STATUS_MACROS_CONCAT(sk_statusor_, __LINE__), lhs, rexpr)

#define SK_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                             \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()

#endif  // SLOTKEEPER_BASE_STATUS_MACROS_H_
