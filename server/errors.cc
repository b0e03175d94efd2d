// Error construction: BadRequest / RetryInfo details packed into
// google.rpc.Status.
#include "server/errors.h"

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace otserve {

void Violations::Add(absl::string_view field, absl::string_view description) {
  fields_.emplace_back(std::string(field), std::string(description));
}

grpc::Status Violations::ToStatus() const {
  google::rpc::BadRequest bad;
  std::string message = "invalid request:";
  for (const auto& [field, description] : fields_) {
    auto* v = bad.add_field_violations();
    v->set_field(field);
    v->set_description(description);
    absl::StrAppend(&message, " ", field, ": ", description, ";");
  }
  message.pop_back();
  google::rpc::Status status;
  status.set_code(grpc::StatusCode::INVALID_ARGUMENT);
  status.set_message(message);
  status.add_details()->PackFrom(bad);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message,
                      status.SerializeAsString());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode both follow google.rpc.Code.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void FillBatchError(const grpc::Status& status, ot::v1::BatchError* out) {
  out->set_code(status.error_code());
  out->set_message(status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    return;
  }
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (!any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) {
      auto* fv = out->add_field_violations();
      fv->set_field(v.field());
      fv->set_description(v.description());
    }
  }
}

grpc::Status QueueFullStatus(int in_flight, int capacity) {
  const std::string message =
      absl::StrCat("server busy: ", in_flight, " jobs in flight (capacity ",
                   capacity, "); retry later");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_nanos(100'000'000);
  google::rpc::Status status;
  status.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  status.set_message(message);
  status.add_details()->PackFrom(retry);
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                      status.SerializeAsString());
}

}  // namespace otserve
