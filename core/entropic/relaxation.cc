// The over-relaxation controller.
#include "core/entropic/relaxation.h"

#include <algorithm>
#include <cmath>

namespace otcore {

double RelaxationController::OptimalOmega(double theta) {
  if (!(theta > 0.0)) return 1.0;
  return std::min(kMaxOmega,
                  2.0 / (1.0 + std::sqrt(1.0 - std::min(theta, 1.0))));
}

void RelaxationController::Observe(int64_t stage_it, double err) {
  if (!enabled_) return;
  if (omega_ == 1.0 && stage_it == kProbeStart) probe_err_ = err;
  if (omega_ == 1.0 && stage_it == kProbeStart + kProbeLength &&
      probe_err_ > 0.0 && err < probe_err_) {
    omega_ = OptimalOmega(std::pow(err / probe_err_, 1.0 / kProbeLength));
  } else if (omega_ > 1.0 && err > last_check_err_) {
    omega_ = 1.0 + 0.5 * (omega_ - 1.0);
  } else if (omega_ > 1.0 && last_check_err_ > 0.0) {
    // The over-relaxed rate r reveals the plain rate theta through
    // (r + omega - 1)^2 = r omega^2 theta; raise omega if it is slower than
    // assumed (the early plain rate underestimates it).
    const double r =
        std::pow(err / last_check_err_, 1.0 / (stage_it - last_check_it_));
    const double theta =
        (r + omega_ - 1) * (r + omega_ - 1) / (r * omega_ * omega_);
    omega_ = std::max(omega_, OptimalOmega(theta));
  }
  last_check_err_ = err;
  last_check_it_ = stage_it;
}

}  // namespace otcore
