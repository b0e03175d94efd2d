// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr
// (Debian's Abseil 20220623 ships no status_macros.h). Header-only; no state.
#ifndef OTSERVE_CORE_COMMON_STATUS_MACROS_H_
#define OTSERVE_CORE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OT_CONCAT_IMPL_(a, b) a##b
#define OT_CONCAT_(a, b) OT_CONCAT_IMPL_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    const absl::Status ot_status_ = (expr);  \
    if (!ot_status_.ok()) return ot_status_; \
  } while (false)

// `lhs = value of expr`, or returns its error status from the enclosing
// function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(OT_CONCAT_(ot_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // OTSERVE_CORE_COMMON_STATUS_MACROS_H_
