// Error construction for the service: field violations gathered during
// validation, sent as INVALID_ARGUMENT with google.rpc.BadRequest details, the
// single place where absl::StatusCode maps to grpc::StatusCode, and the job
// boundary that turns exceptions into statuses.
// Thread-compatible.
#ifndef OTSERVE_SERVER_ERRORS_H_
#define OTSERVE_SERVER_ERRORS_H_

#include <grpcpp/support/status.h>

#include <exception>
#include <new>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ot/v1/service.pb.h"

namespace otserve {

// Collects "field: what is wrong" pairs while a request is checked.
class Violations {
 public:
  void Add(absl::string_view field, absl::string_view description);
  bool empty() const { return fields_.empty(); }
  size_t size() const { return fields_.size(); }

  // Adds a core validation error: its field path (otcore::InvalidField) and
  // message, or `fallback_field` when it names none. OK is ignored.
  void AddStatus(const absl::Status& status,
                 absl::string_view fallback_field = "");
  // Adds `status` when not OK; returns whether it was OK.
  bool Check(const absl::Status& status) {
    AddStatus(status);
    return status.ok();
  }

  // INVALID_ARGUMENT; the message lists the violations, and a payload carries
  // a google.rpc.BadRequest with one FieldViolation per entry (ToGrpcStatus
  // turns it into the status details).
  absl::Status ToStatus() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Maps an absl::Status (same numeric codes) to a grpc::Status. Field
// violations (from Violations::ToStatus or a core InvalidField error) become a
// google.rpc.BadRequest in the details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Copies code, message and BadRequest field violations of `status` into a
// batch item's error.
void FillBatchError(const grpc::Status& status, ot::v1::BatchError* out);

// UNAVAILABLE while the server drains for shutdown (clients retry elsewhere).
absl::Status DrainingStatus();

// RESOURCE_EXHAUSTED with a google.rpc.RetryInfo hint: the job queue is full,
// or the memory budget is taken by jobs in flight.
absl::Status QueueFullStatus(int in_flight, int capacity);
absl::Status MemoryBusyStatus(int64_t used_mb, int64_t budget_mb);
// RESOURCE_EXHAUSTED with RetryInfo: the tenant's own share is taken.
absl::Status TenantFullStatus(absl::string_view tenant, int max_jobs,
                              int64_t max_mb);

// The job boundary: runs `body` (returning absl::Status or StatusOr) and turns
// an exception it throws into this call's error, never the process's end:
// std::bad_alloc -> RESOURCE_EXHAUSTED with `out_of_memory`, anything else
// INTERNAL "<what> failed: <e.what()>".
template <typename Body>
auto CatchExceptions(Body&& body, absl::string_view what,
                     absl::string_view out_of_memory) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(out_of_memory);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, " failed: ", e.what()));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat(what, " failed with an unknown exception"));
  }
}

}  // namespace otserve

#endif  // OTSERVE_SERVER_ERRORS_H_
