// Over-relaxation of the balanced Sinkhorn iteration (last epsilon stage):
// both half-steps move omega times the plain step, omega = 2 / (1 +
// sqrt(1 - theta)) from the observed per-iteration contraction theta of the
// plain iteration (Young's optimum for two-block SOR; Lehmann et al. 2021 for
// Sinkhorn), raised when the over-relaxed rate reveals a slower plain rate,
// and halved back towards 1 whenever the checked error grows. Convergence is
// only ever judged on exactly refit columns (ExactNext). Thread-compatible.
#ifndef OTSERVE_CORE_ENTROPIC_RELAXATION_H_
#define OTSERVE_CORE_ENTROPIC_RELAXATION_H_

#include <cstdint>

namespace otcore {

class RelaxationController {
 public:
  // Plain iterations of the stage before the contraction rate is measured,
  // from kProbeStart over kProbeLength iterations.
  static constexpr int64_t kProbeStart = 10;
  static constexpr int64_t kProbeLength = 10;
  static constexpr double kMaxOmega = 1.99;
  // Over-relaxed runs refit g exactly (and test convergence) this often.
  static constexpr int64_t kCheckEvery = 10;
  // ... and this often once the error is within 10x the tolerance (an exact
  // column update is a plain step: checking every iteration would stall the
  // acceleration in the last decade).
  static constexpr int64_t kCheckNear = 5;

  // Young's optimal SOR factor for a plain contraction rate theta (1 when
  // theta is not in (0, 1]), capped at kMaxOmega.
  static double OptimalOmega(double theta);

  // Disabled: omega stays 1 (plain Sinkhorn).
  explicit RelaxationController(bool enabled) : enabled_(enabled) {}

  double omega() const { return omega_; }

  // Records the marginal error `err` of stage iteration `stage_it`, measured on
  // exactly refit columns, and adapts omega.
  void Observe(int64_t stage_it, double err);

  // Whether the next column update must be the exact one: always without
  // relaxation, every kCheckEvery iterations, and once the error is within 10x
  // the tolerance.
  bool ExactNext(int64_t stage_it, double err, double tolerance) const {
    return omega_ == 1.0 ||
           stage_it % (err <= 10.0 * tolerance ? kCheckNear : kCheckEvery) == 0;
  }

 private:
  const bool enabled_;
  double omega_ = 1.0;
  double probe_err_ = 0.0;
  double last_check_err_ = 0.0;
  int64_t last_check_it_ = 0;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_RELAXATION_H_
