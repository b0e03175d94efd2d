// Distance, Plan and DistanceBatch jobs: one transport solve each.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/gpu/batch.h"
#include "core/methods.h"
#include "server/jobs/common.h"
#include "server/jobs/jobs.h"

namespace otserve {

absl::StatusOr<std::unique_ptr<DistanceJob>> DistanceJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<DistanceJob>();
  absl::Status status = DecodeTransport(FieldsOf(request), context.limits,
                                        /*compute_plan=*/false, &job->decoded_);
  if (!status.ok()) return status;
  return job;
}

GpuWork DistanceJob::Gpu() const {
  return TransportGpuWork(decoded_, /*plan=*/false);
}

GpuWork PlanJob::Gpu() const {
  return TransportGpuWork(decoded_, /*plan=*/true);
}

absl::Status DistanceJob::Run(const RunContext& context,
                              Response* response) const {
  auto result = otcore::SolveTransport(decoded_.problem, decoded_.options,
                                       context.control);
  if (!result.ok()) return result.status();
  FillTransport(*result, decoded_.problem, context.queue_wait, response);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PlanJob>> PlanJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<PlanJob>();
  absl::Status status = DecodeTransport(FieldsOf(request), context.limits,
                                        /*compute_plan=*/true, &job->decoded_);
  Violations v;
  if (!ot::v1::PlanFormat_IsValid(request.format())) {
    v.Add("format", "unknown value");
  }
  if (!status.ok()) return status;
  const otcore::TransportProblem& p = job->decoded_.problem;
  const otcore::Method m = otcore::ResolveMethod(p, job->decoded_.options);
  const otcore::PlanKind kind = otcore::InfoOf(m).plan;
  if (kind == otcore::PlanKind::kNone) {
    v.Add("method", absl::StrCat("method ", otcore::MethodName(m),
                                 " has no transport plan; use Distance"));
  }
  if (!v.empty()) return v.ToStatus();
  // The response must fit the message limit: refused before the solve.
  const int64_t n = p.n(), m_ = p.m();
  const bool dense = request.format() == ot::v1::PLAN_FORMAT_DENSE ||
                     (request.format() == ot::v1::PLAN_FORMAT_UNSPECIFIED &&
                      kind == otcore::PlanKind::kDense);
  int64_t bytes = 8 * (n + m_);  // potentials
  if (kind == otcore::PlanKind::kLinearMap) {
    const int64_t d = p.x ? p.x->cols() : p.source_gaussian->mean.size();
    bytes = 8 * d * (d + 1);
  } else if (dense) {
    bytes += 8 * n * m_;
  } else {
    // 3 x 8 bytes per non-zero: n + m - 1 for a basic plan, up to n m.
    bytes += 24 * (kind == otcore::PlanKind::kSparse ? n + m_ : n * m_);
  }
  if (absl::Status s =
          CheckResponseBytes(bytes, "the plan", context.max_message_bytes);
      !s.ok()) {
    return s;
  }
  job->response_bytes_ = bytes;
  job->format_ = request.format();
  return job;
}

absl::Status PlanJob::Run(const RunContext& context, Response* response) const {
  const otcore::TransportProblem& p = decoded_.problem;
  auto result = otcore::SolveTransport(p, decoded_.options, context.control);
  if (!result.ok()) return result.status();
  const int64_t n = p.n(), m = p.m();
  FillTransport(*result, p, context.queue_wait, response);
  if (result->linear_map) {
    const auto& map = *result->linear_map;
    const int64_t d = map.b.size();
    const otcore::RowMatrix a = map.a;  // row-major copy
    FillArray(a.data(), {d, d},
              response->mutable_linear_map()->mutable_matrix());
    FillArray(map.b.data(), {d},
              response->mutable_linear_map()->mutable_offset());
    return absl::OkStatus();
  }
  if (!result->sparse_plan && !result->dense_plan) {
    return absl::InternalError("the solver returned no plan");
  }
  const bool dense =
      format_ == ot::v1::PLAN_FORMAT_DENSE ||
      (format_ == ot::v1::PLAN_FORMAT_UNSPECIFIED && result->dense_plan);
  if (dense) {
    if (!result->dense_plan) {
      result->dense_plan = otcore::Densify(*result->sparse_plan, n, m);
    }
    FillArray(result->dense_plan->data(), {n, m},
              response->mutable_dense_plan());
  } else {
    if (!result->sparse_plan) {
      result->sparse_plan = otcore::Sparsify(*result->dense_plan);
    }
    const otcore::SparsePlan& sp = *result->sparse_plan;
    auto* out = response->mutable_sparse_plan();
    out->mutable_rows()->Assign(sp.rows.begin(), sp.rows.end());
    out->mutable_cols()->Assign(sp.cols.begin(), sp.cols.end());
    out->mutable_values()->Assign(sp.values.begin(), sp.values.end());
    out->add_shape(n);
    out->add_shape(m);
  }
  if (result->f.size() == n) {
    FillArray(result->f.data(), {n}, response->mutable_f());
  }
  if (result->g.size() == m) {
    FillArray(result->g.data(), {m}, response->mutable_g());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DistanceBatchJob>> DistanceBatchJob::Decode(
    const Request& request, const DecodeContext& context) {
  auto job = std::make_unique<DistanceBatchJob>();
  const int n = request.items_size();
  job->items_.resize(n);
  job->errors_.resize(n);
  for (int k = 0; k < n; ++k) {
    auto item = DistanceJob::Decode(request.items(k), context);
    if (item.ok()) {
      job->items_[k] = *std::move(item);
    } else {
      job->errors_[k] = item.status();
    }
  }
  return job;
}

int64_t DistanceBatchJob::WorkingBytes() const {
  int64_t bytes = 0;
  for (const auto& item : items_) {
    if (item) bytes += item->WorkingBytes();
  }
  return bytes;
}

GpuWork DistanceBatchJob::Gpu() const {
  GpuWork w;
  int64_t entries = 0, bytes = 0, largest_alone = 0;
  for (const auto& item : items_) {
    if (!item) continue;
    const GpuWork one = item->Gpu();
    if (!one.supported) continue;
    w.supported = true;
    w.n = std::max(w.n, one.n);
    w.m = std::max(w.m, one.m);
    w.d = std::max(w.d, one.d);
    entries += one.Entries();
    if (one.directions == 0 && !one.dense &&
        otcore::gpu::BlockTakes(one.n, one.m, one.d)) {
      bytes += otcore::gpu::BlockProblemBytes(one.n, one.m, one.d);
    } else {  // solved one at a time
      largest_alone = std::max(largest_alone, one.DeviceBytes());
    }
  }
  if (!w.supported) {
    w.unsupported_reason =
        "no item of this batch has a GPU implementation (the entropic "
        "methods have: sinkhorn, unbalanced)";
    return w;
  }
  w.batch_entries = entries;
  w.held_bytes = bytes + largest_alone;
  return w;
}

absl::Status DistanceBatchJob::RunOnDevice(const RunContext& context,
                                           Response* response) const {
  const size_t n = items_.size();
  std::vector<otcore::TransportProblem> problems;
  std::vector<otcore::TransportOptions> options;
  std::vector<size_t> index;  // decoded item -> request item
  for (size_t k = 0; k < n; ++k) {
    if (!errors_[k].ok()) continue;
    problems.push_back(items_[k]->decoded().problem);
    options.push_back(items_[k]->decoded().options);
    index.push_back(k);
  }
  std::vector<absl::StatusOr<otcore::TransportResult>> results;
  if (absl::Status s = otcore::SolveTransportBatch(problems, options,
                                                   context.control, &results);
      !s.ok()) {
    return s;
  }
  std::vector<ot::v1::DistanceBatchItem> items(n);
  for (size_t k = 0; k < n; ++k) {
    if (!errors_[k].ok()) {
      FillBatchError(ToGrpcStatus(errors_[k]), items[k].mutable_error());
    }
  }
  for (size_t t = 0; t < index.size(); ++t) {
    ot::v1::DistanceBatchItem& item = items[index[t]];
    if (!results[t].ok()) {
      FillBatchError(ToGrpcStatus(results[t].status()), item.mutable_error());
    } else {
      FillTransport(*results[t], problems[t], context.queue_wait,
                    item.mutable_result());
      // Methods without a GPU path ran on this (CPU) thread.
      if (!items_[index[t]]->Gpu().supported) {
        item.mutable_result()->mutable_diagnostics()->set_device("cpu");
        item.mutable_result()->mutable_diagnostics()->set_precision("float64");
      }
    }
  }
  for (auto& item : items) *response->add_items() = std::move(item);
  return absl::OkStatus();
}

absl::Status DistanceBatchJob::Run(const RunContext& context,
                                   Response* response) const {
  if (context.control.entropic_kernels() != nullptr) {
    return RunOnDevice(context, response);
  }
  const int64_t n = static_cast<int64_t>(items_.size());
  std::vector<ot::v1::DistanceResponse> results(n);
  std::vector<absl::Status> errors = errors_;
  context.control.ParallelRange(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      if (!errors[k].ok()) continue;
      errors[k] = items_[k]->Run(context, &results[k]);
    }
  });
  // A cancelled or expired call fails as a whole.
  if (absl::Status s = context.control.Check(); !s.ok()) return s;
  for (int64_t k = 0; k < n; ++k) {
    auto* item = response->add_items();
    if (!errors[k].ok()) {
      FillBatchError(ToGrpcStatus(errors[k]), item->mutable_error());
    } else {
      *item->mutable_result() = std::move(results[k]);
    }
  }
  return absl::OkStatus();
}

}  // namespace otserve
