// Bookkeeping shared by the iterative solvers' loops: recording a sweep in the
// Summary (stop on convergence or non-finite error, progress every 10 sweeps)
// and closing the Summary. Thread-compatible (one loop per Summary).
#ifndef OTSERVE_CORE_COMMON_ITERATION_H_
#define OTSERVE_CORE_COMMON_ITERATION_H_

#include <cstdint>

#include "absl/time/time.h"
#include "core/common/control.h"
#include "core/common/types.h"

namespace otcore {

// Records sweep `it` with error `err` (stored in s->marginal_error). Returns
// true when the loop must stop: err <= tolerance (kConverged) or err is NaN
// (kNumericalError). Reports progress every 10 sweeps otherwise.
bool EndSweep(int64_t it, double err, double tolerance, double epsilon,
              absl::Time start, const SolveControl& control, Summary* s);

// Sets converged, a message when the iteration cap struck, and the seconds.
void FinishSummary(absl::Time start, Summary* s);

// A result whose value is not finite (inputs at the edge of the double range,
// a degenerate kernel) is NUMERICAL_ERROR with a message, never CONVERGED.
// Returns whether `value` is finite.
bool CheckFiniteValue(double value, Summary* s);

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_ITERATION_H_
