// One job type per RPC. Decode(request, context) runs on the gRPC thread: it
// views the request's arrays (no copies of aligned float64 data), runs every
// check once (the wire format here, the rest through the core's Validate
// functions) and bounds the sizes; nothing proportional to n * m happens
// there. Run(context, response) runs on a worker: it solves and fills the
// response. A job keeps views into its request, which must outlive it (the
// gRPC call does). Thread-compatible: one thread uses a job at a time.
#ifndef OTSERVE_SERVER_JOBS_JOBS_H_
#define OTSERVE_SERVER_JOBS_JOBS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/barycenter/fixed_support.h"
#include "core/common/control.h"
#include "core/entropic/divergence.h"
#include "core/gromov/gromov.h"
#include "core/semidiscrete/semidiscrete.h"
#include "ot/v1/service.pb.h"
#include "server/convert.h"
#include "server/gpu.h"

namespace otserve {

// The server configuration decoders read.
struct DecodeContext {
  Limits limits;
  int64_t max_message_bytes = int64_t{256} << 20;
};

// What a job's Run gets from its worker.
struct RunContext {
  const otcore::SolveControl& control;
  absl::Duration queue_wait;
};

// Distance and DistanceStream (and each DistanceBatch item).
class DistanceJob {
 public:
  using Request = ot::v1::DistanceRequest;
  using Response = ot::v1::DistanceResponse;
  static absl::StatusOr<std::unique_ptr<DistanceJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  // Memory the job holds beyond its request (the scheduler's budget).
  int64_t WorkingBytes() const { return decoded_.working_bytes; }
  // What it would run on a GPU (entropic methods only).
  GpuWork Gpu() const;
  const DecodedTransport& decoded() const { return decoded_; }

 private:
  DecodedTransport decoded_;
};

class PlanJob {
 public:
  using Request = ot::v1::PlanRequest;
  using Response = ot::v1::PlanResponse;
  static absl::StatusOr<std::unique_ptr<PlanJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  // Plus the response, built in memory before it is sent.
  int64_t WorkingBytes() const {
    return decoded_.working_bytes + response_bytes_;
  }
  GpuWork Gpu() const;

 private:
  DecodedTransport decoded_;
  ot::v1::PlanFormat format_ = ot::v1::PLAN_FORMAT_UNSPECIFIED;
  int64_t response_bytes_ = 0;
};

class DivergenceJob {
 public:
  using Request = ot::v1::DivergenceRequest;
  using Response = ot::v1::DivergenceResponse;
  static absl::StatusOr<std::unique_ptr<DivergenceJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  int64_t WorkingBytes() const { return working_bytes_; }
  GpuWork Gpu() const;

 private:
  DecodedTransport decoded_;
  otcore::DivergenceOptions options_;
  int64_t working_bytes_ = 0;
};

// All four barycenter kinds; Decode picks the implementation by kind.
class BarycenterJob {
 public:
  using Request = ot::v1::BarycenterRequest;
  using Response = ot::v1::BarycenterResponse;
  virtual ~BarycenterJob() = default;
  static absl::StatusOr<std::unique_ptr<BarycenterJob>> Decode(
      const Request& request, const DecodeContext& context);
  virtual absl::Status Run(const RunContext& context,
                           Response* response) const = 0;
  // Estimated from the measures' copies and the solver's work arrays.
  int64_t WorkingBytes() const { return working_bytes_; }
  // The fixed-support kind runs on EntropicKernels, hence on a GPU.
  virtual GpuWork Gpu() const {
    GpuWork w;
    w.unsupported_reason =
        "only the fixed-support barycenter has a GPU implementation";
    return w;
  }

 protected:
  int64_t working_bytes_ = 0;
};

// Items are decoded one by one; an invalid item is answered in its slot.
class DistanceBatchJob {
 public:
  using Request = ot::v1::DistanceBatchRequest;
  using Response = ot::v1::DistanceBatchResponse;
  static absl::StatusOr<std::unique_ptr<DistanceBatchJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  int64_t WorkingBytes() const;
  // On a GPU the batch's Sinkhorn problems are solved together (one block
  // each, SolveTransportBatch); what they need. Others run one at a time.
  GpuWork Gpu() const;

 private:
  // The GPU path: every item through SolveTransportBatch.
  absl::Status RunOnDevice(const RunContext& context, Response* response) const;

  std::vector<std::unique_ptr<DistanceJob>> items_;
  std::vector<absl::Status> errors_;  // per item; OK when decoded
};

class GromovJob {
 public:
  using Request = ot::v1::GromovRequest;
  using Response = ot::v1::GromovResponse;
  static absl::StatusOr<std::unique_ptr<GromovJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  // Intra costs, the tensor product, the plan and its gradient, the inner
  // Sinkhorn's plan and its in-memory kernel.
  int64_t WorkingBytes() const {
    const int64_t n = source_.size(), m = target_.size();
    return 8 * (n * n + m * m + 5 * n * m);
  }

 private:
  // One space: its intra-space cost matrix, or points whose cost Run forms.
  struct Space {
    ArrayData costs, points, weights;
    Eigen::VectorXd uniform;
    int64_t size() const;
  };
  Space source_, target_;
  ArrayData feature_;
  otcore::CostSpec spec_;
  otcore::GromovOptions options_;
  bool return_plan_ = false;
};

class MapJob {
 public:
  using Request = ot::v1::MapRequest;
  using Response = ot::v1::MapResponse;
  static absl::StatusOr<std::unique_ptr<MapJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  int64_t WorkingBytes() const {
    return decoded_.working_bytes + query_.owned_bytes();
  }

 private:
  DecodedTransport decoded_;
  ArrayData query_;
  std::vector<double> times_;  // interpolation times
};

class SemiDiscreteJob {
 public:
  using Request = ot::v1::SemiDiscreteRequest;
  using Response = ot::v1::SemiDiscreteResponse;
  static absl::StatusOr<std::unique_ptr<SemiDiscreteJob>> Decode(
      const Request& request, const DecodeContext& context);
  absl::Status Run(const RunContext& context, Response* response) const;
  // Batches and evaluation blocks of samples with their cost rows.
  int64_t WorkingBytes() const;

 private:
  otcore::Density source_;
  ArrayData y_, b_, query_;
  otcore::CostSpec cost_;
  otcore::SemiDiscreteOptions options_;
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_JOBS_JOBS_H_
