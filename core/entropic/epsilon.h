// How an entropic solver's epsilon is given and resolved: the one home of the
// default (0.05 x the mean cost, as OTT-JAX's relative epsilon) and of the
// relative scale. Pure functions; thread-safe.
#ifndef OTSERVE_CORE_ENTROPIC_EPSILON_H_
#define OTSERVE_CORE_ENTROPIC_EPSILON_H_

#include <optional>

#include "absl/status/statusor.h"

namespace otcore {

enum class EpsilonScale { kAbsolute, kRelativeToMeanCost };

// Used when no epsilon is given, relative to the mean cost.
inline constexpr double kDefaultRelativeEpsilon = 0.05;

// An epsilon as a caller gives it: a value (absent: the default) and the scale
// it is read on.
struct EpsilonSpec {
  std::optional<double> value;
  EpsilonScale scale = EpsilonScale::kAbsolute;

  // True when the mean cost is needed to resolve it.
  bool relative() const {
    return !value || scale == EpsilonScale::kRelativeToMeanCost;
  }
  // A given value must be finite and > 0 ("options.epsilon").
  absl::Status Validate() const;
  // The absolute epsilon for a cost whose unweighted mean entry is
  // `mean_cost`; INVALID_ARGUMENT on "options.epsilon" when it is not > 0
  // (a relative epsilon over an all-zero cost).
  absl::StatusOr<double> Resolve(double mean_cost) const;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_EPSILON_H_
