// SolveControl implementation and the names of the shared enums.
#include "core/common/control.h"

#include "core/common/types.h"

namespace otcore {

absl::Status SolveControl::Check() const {
  if (cancelled()) return absl::CancelledError("solve cancelled by the caller");
  if (deadline_ != absl::InfiniteFuture() && absl::Now() >= deadline_) {
    return absl::DeadlineExceededError("deadline reached during the solve");
  }
  return absl::OkStatus();
}

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kAuto:
      return "auto";
    case Method::kExact:
      return "exact";
    case Method::kSinkhorn:
      return "sinkhorn";
    case Method::kOneD:
      return "1d";
    case Method::kUnbalanced:
      return "unbalanced";
    case Method::kSliced:
      return "sliced";
    case Method::kMaxSliced:
      return "max_sliced";
    case Method::kGaussian:
      return "gaussian";
  }
  return "unknown";
}

absl::string_view TerminationName(Termination termination) {
  switch (termination) {
    case Termination::kConverged:
      return "converged";
    case Termination::kIterationLimit:
      return "iteration_limit";
    case Termination::kNumericalError:
      return "numerical_error";
  }
  return "unknown";
}

}  // namespace otcore
