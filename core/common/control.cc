// SolveControl implementation.
#include "core/common/control.h"

#include "absl/time/clock.h"

namespace otcore {

absl::Status SolveControl::Check() const {
  if (cancelled()) return absl::CancelledError("solve cancelled by the caller");
  if (deadline_ != absl::InfiniteFuture() && absl::Now() >= deadline_) {
    return absl::DeadlineExceededError("deadline reached during the solve");
  }
  return absl::OkStatus();
}

}  // namespace otcore
