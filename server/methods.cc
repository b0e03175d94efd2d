// The proto <-> core method rows.
#include "server/methods.h"

namespace otserve {
namespace {

constexpr ProtoMethod kRows[] = {
    {ot::v1::METHOD_AUTO, otcore::Method::kAuto},
    {ot::v1::METHOD_EXACT, otcore::Method::kExact},
    {ot::v1::METHOD_SINKHORN, otcore::Method::kSinkhorn},
    {ot::v1::METHOD_ONE_D, otcore::Method::kOneD},
    {ot::v1::METHOD_UNBALANCED_SINKHORN, otcore::Method::kUnbalanced},
    {ot::v1::METHOD_SLICED, otcore::Method::kSliced},
    {ot::v1::METHOD_MAX_SLICED, otcore::Method::kMaxSliced},
    {ot::v1::METHOD_GAUSSIAN, otcore::Method::kGaussian},
};

}  // namespace

absl::Span<const ProtoMethod> ProtoMethods() { return kRows; }

std::optional<otcore::Method> FromProto(ot::v1::Method method) {
  if (method == ot::v1::METHOD_UNSPECIFIED) return otcore::Method::kAuto;
  for (const ProtoMethod& row : kRows) {
    if (row.proto == method) return row.core;
  }
  return std::nullopt;
}

ot::v1::Method ToProto(otcore::Method method) {
  for (const ProtoMethod& row : kRows) {
    if (row.core == method) return row.proto;
  }
  return ot::v1::METHOD_UNSPECIFIED;
}

}  // namespace otserve
