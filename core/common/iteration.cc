// Loop bookkeeping for iterative solvers.
#include "core/common/iteration.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace otcore {

bool EndSweep(int64_t it, double err, double tolerance, double epsilon,
              absl::Time start, const SolveControl& control, Summary* s) {
  s->iterations = it;
  s->marginal_error = err;
  if (std::isnan(err)) {
    s->termination = Termination::kNumericalError;
    s->message = "non-finite values in the iteration";
    return true;
  }
  if (err <= tolerance) {
    s->termination = Termination::kConverged;
    return true;
  }
  if (it % 10 == 0) {
    control.Report(
        {it, err, epsilon, absl::ToDoubleSeconds(absl::Now() - start)});
  }
  return false;
}

bool CheckFiniteValue(double value, Summary* s) {
  if (std::isfinite(value)) return true;
  s->termination = Termination::kNumericalError;
  s->message = absl::StrCat(
      "the value is ", value,
      ": the inputs overflow double precision (rescale them) or the kernel "
      "is degenerate");
  return false;
}

void FinishSummary(absl::Time start, Summary* s) {
  if (s->termination == Termination::kIterationLimit && s->message.empty()) {
    s->message =
        absl::StrCat("max_iterations reached at error ", s->marginal_error);
  }
  s->seconds = absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace otcore
