// Epsilon validation and resolution.
#include "core/entropic/epsilon.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/common/validate.h"

namespace otcore {

absl::Status EpsilonSpec::Validate() const {
  if (!value) return absl::OkStatus();
  return CheckPositive(*value, "options.epsilon");
}

absl::StatusOr<double> EpsilonSpec::Resolve(double mean_cost) const {
  double eps = value.value_or(kDefaultRelativeEpsilon);
  if (relative()) eps *= mean_cost;
  if (!(std::isfinite(eps) && eps > 0.0)) {
    return InvalidField("options.epsilon",
                        absl::StrCat("resolves to ", eps,
                                     "; it must be finite and > 0 (an "
                                     "all-zero cost needs an absolute "
                                     "epsilon)"));
  }
  return eps;
}

}  // namespace otcore
