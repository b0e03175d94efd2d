// Field-path errors and the shared option checks.
#include "core/common/validate.h"

#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace otcore {
namespace {
constexpr char kFieldPayload[] = "type.otserve/otcore.field";
}  // namespace

absl::Status InvalidField(absl::string_view field, absl::string_view message) {
  absl::Status status =
      absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
  status.SetPayload(kFieldPayload, absl::Cord(field));
  return status;
}

std::string FieldOf(const absl::Status& status) {
  auto payload = status.GetPayload(kFieldPayload);
  return payload ? std::string(*payload) : std::string();
}

absl::string_view FieldMessage(const absl::Status& status) {
  absl::string_view message = status.message();
  const std::string field = FieldOf(status);
  if (!field.empty() && absl::StartsWith(message, field + ": ")) {
    message.remove_prefix(field.size() + 2);
  }
  return message;
}

absl::Status CheckPositive(double value, absl::string_view field) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return InvalidField(field,
                      absl::StrCat("must be finite and > 0, got ", value));
}

absl::Status CheckTolerance(double tolerance, bool below_one,
                            absl::string_view field) {
  if (tolerance > 0 && (!below_one || tolerance < 1)) return absl::OkStatus();
  return InvalidField(
      field, absl::StrCat(below_one ? "must be in (0, 1)" : "must be > 0",
                          ", got ", tolerance));
}

absl::Status CheckMaxIterations(int64_t max_iterations,
                                absl::string_view field) {
  if (max_iterations >= 1 && max_iterations <= kMaxIterationsCap) {
    return absl::OkStatus();
  }
  return InvalidField(
      field, absl::StrCat("must be in [1, 1e12], got ", max_iterations));
}

}  // namespace otcore
