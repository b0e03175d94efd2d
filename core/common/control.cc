// SolveControl implementation.
#include "core/common/control.h"

#include "absl/time/clock.h"

namespace otcore {

absl::Status SolveControl::Check() const {
  if (cancelled()) return absl::CancelledError("solve cancelled by the caller");
  if (deadline_ == absl::InfiniteFuture() &&
      time_limit_ == absl::InfiniteFuture()) {
    return absl::OkStatus();
  }
  const absl::Time now = absl::Now();
  if (now >= deadline_) {
    return absl::DeadlineExceededError("deadline reached during the solve");
  }
  if (now >= time_limit_) {
    return absl::DeadlineExceededError(
        "the solve reached the time limit of the job (the server's "
        "--max_job_seconds); ask for fewer iterations or a looser tolerance");
  }
  return absl::OkStatus();
}

}  // namespace otcore
