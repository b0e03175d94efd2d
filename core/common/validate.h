// Checks shared by every solver's Options::Validate() and input validation,
// and the error they return: INVALID_ARGUMENT carrying the path of the field
// at fault (e.g. "options.epsilon", "target.weights"). Paths use the API's
// field names, so the server turns them into google.rpc.BadRequest field
// violations without a translation table. Pure functions; thread-safe.
#ifndef OTSERVE_CORE_COMMON_VALIDATE_H_
#define OTSERVE_CORE_COMMON_VALIDATE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace otcore {

// The largest iteration cap any solver accepts (the server bounds the time).
inline constexpr int64_t kMaxIterationsCap = 1'000'000'000'000;

// INVALID_ARGUMENT "<field>: <message>" with `field` attached as a payload.
absl::Status InvalidField(absl::string_view field, absl::string_view message);
// The field path of an error made by InvalidField; empty otherwise.
std::string FieldOf(const absl::Status& status);
// The message of an InvalidField error without its "<field>: " prefix.
absl::string_view FieldMessage(const absl::Status& status);

// value finite and > 0.
absl::Status CheckPositive(double value, absl::string_view field);
// tolerance > 0, and < 1 when it is a relative error (below_one).
absl::Status CheckTolerance(double tolerance, bool below_one,
                            absl::string_view field = "options.tolerance");
// 1 <= max_iterations <= kMaxIterationsCap.
absl::Status CheckMaxIterations(
    int64_t max_iterations, absl::string_view field = "options.max_iterations");

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_VALIDATE_H_
