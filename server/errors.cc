// Error construction: BadRequest / RetryInfo details packed into
// google.rpc.Status.
#include "server/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "core/common/validate.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace otserve {
namespace {

// absl::Status payload keys: the type URLs of the detail messages they hold.
constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kRetryInfoUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

}  // namespace

void Violations::Add(absl::string_view field, absl::string_view description) {
  fields_.emplace_back(std::string(field), std::string(description));
}

void Violations::AddStatus(const absl::Status& status,
                           absl::string_view fallback_field) {
  if (status.ok()) return;
  const std::string field = otcore::FieldOf(status);
  if (field.empty()) {
    Add(fallback_field, status.message());
  } else {
    Add(field, otcore::FieldMessage(status));
  }
}

absl::Status Violations::ToStatus() const {
  google::rpc::BadRequest bad;
  std::string message = "invalid request:";
  for (const auto& [field, description] : fields_) {
    auto* v = bad.add_field_violations();
    v->set_field(field);
    v->set_description(description);
    absl::StrAppend(&message, " ", field, ": ", description, ";");
  }
  message.pop_back();
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kBadRequestUrl, absl::Cord(bad.SerializeAsString()));
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode both follow google.rpc.Code.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  google::rpc::Status details;
  details.set_code(code);
  details.set_message(message);
  const std::string field = otcore::FieldOf(status);
  if (auto bad = status.GetPayload(kBadRequestUrl)) {
    auto* any = details.add_details();
    any->set_type_url(kBadRequestUrl);
    any->set_value(std::string(*bad));
  } else if (!field.empty()) {
    google::rpc::BadRequest one;
    auto* v = one.add_field_violations();
    v->set_field(field);
    v->set_description(std::string(otcore::FieldMessage(status)));
    details.add_details()->PackFrom(one);
  }
  if (auto retry = status.GetPayload(kRetryInfoUrl)) {
    auto* any = details.add_details();
    any->set_type_url(kRetryInfoUrl);
    any->set_value(std::string(*retry));
  }
  if (details.details_size() == 0) return grpc::Status(code, message);
  return grpc::Status(code, message, details.SerializeAsString());
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

absl::Status DrainingStatus() {
  return absl::UnavailableError(
      "the server is shutting down and takes no new jobs; retry on another "
      "replica");
}

static absl::Status WithRetryHint(absl::Status status) {
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_nanos(100'000'000);
  status.SetPayload(kRetryInfoUrl, absl::Cord(retry.SerializeAsString()));
  return status;
}

absl::Status QueueFullStatus(int in_flight, int capacity) {
  return WithRetryHint(absl::ResourceExhaustedError(
      absl::StrCat("server busy: ", in_flight, " jobs in flight (capacity ",
                   capacity, "); retry later")));
}

absl::Status MemoryBusyStatus(int64_t used_mb, int64_t budget_mb) {
  return WithRetryHint(absl::ResourceExhaustedError(
      absl::StrCat("server busy: jobs in flight hold ", used_mb,
                   " MiB of the memory budget --max_memory_mb = ", budget_mb,
                   "; retry later")));
}

absl::Status TenantFullStatus(absl::string_view tenant, int max_jobs,
                              int64_t max_mb) {
  return WithRetryHint(absl::ResourceExhaustedError(absl::StrCat(
      "tenant \"", tenant, "\" is at its share of the server: at most ",
      max_jobs, " jobs and ", max_mb,
      " MiB in flight per tenant (--tenant_max_jobs, --tenant_max_memory_mb); "
      "retry later")));
}

}  // namespace otserve
