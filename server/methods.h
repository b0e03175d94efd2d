// The proto <-> core method table: one row per ot.v1.Method value with its
// otcore::Method. Decoding, diagnostics and GetServerInfo read it; a test
// checks that every proto enum value and every core method has a row.
// Immutable; thread-safe.
#ifndef OTSERVE_SERVER_METHODS_H_
#define OTSERVE_SERVER_METHODS_H_

#include <optional>

#include "absl/types/span.h"
#include "core/common/types.h"
#include "ot/v1/types.pb.h"

namespace otserve {

struct ProtoMethod {
  ot::v1::Method proto;
  otcore::Method core;
};

// Every served method (METHOD_UNSPECIFIED is read as METHOD_AUTO, not listed).
absl::Span<const ProtoMethod> ProtoMethods();

// The core method of a wire value (UNSPECIFIED -> kAuto); nullopt if unknown.
std::optional<otcore::Method> FromProto(ot::v1::Method method);
ot::v1::Method ToProto(otcore::Method method);

}  // namespace otserve

#endif  // OTSERVE_SERVER_METHODS_H_
