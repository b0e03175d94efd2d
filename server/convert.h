// Proto <-> core conversion for transport requests. Arrays in a request are
// viewed in place when they are aligned float64 bytes, converted once
// otherwise; every field is checked on the way and each problem is reported as
// a field violation. Thread-compatible; the decoded views borrow the request,
// which must outlive them.
#ifndef OTSERVE_SERVER_CONVERT_H_
#define OTSERVE_SERVER_CONVERT_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/transport.h"
#include "ot/v1/service.pb.h"
#include "server/errors.h"

namespace otserve {

// Request size limits (server flags).
struct Limits {
  // Points in one measure.
  int64_t max_points = 10'000'000;
  // Doubles a job may allocate beyond its request (cost matrices, dense plans,
  // directions, covariance work), as the core reports them
  // (otcore::TransportFootprint, DivergenceDenseEntries); 8 bytes each.
  int64_t max_cost_entries = 100'000'000;
  // Largest d of a d x d eigendecomposition (Gaussian methods): O(d^3) work
  // that cannot be interrupted.
  int64_t max_dense_dimension = 2048;
};

// Arrays are viewed in place only at this alignment (the widest SIMD packet),
// so that results are bitwise reproducible whatever the request buffer's
// address.
inline constexpr uintptr_t kArrayAlignment = EIGEN_MAX_ALIGN_BYTES;

// A float64 view of an ot.v1.Array, owning a converted copy only when needed.
class ArrayData {
 public:
  ArrayData() = default;
  // Not copyable: data() may point into owned_, and views of it are held.
  ArrayData(const ArrayData&) = delete;
  ArrayData& operator=(const ArrayData&) = delete;

  bool present() const { return present_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t rows() const { return shape_.empty() ? 0 : shape_[0]; }
  // Columns of a matrix; 1 for a vector.
  int64_t cols() const { return shape_.size() == 2 ? shape_[1] : 1; }
  const double* data() const { return data_; }
  // Bytes of the converted copy (0 when viewed in place).
  int64_t owned_bytes() const { return 8 * owned_count_; }
  Eigen::Map<const otcore::RowMatrix> matrix() const {
    return {data_, rows(), cols()};
  }
  Eigen::Map<const Eigen::VectorXd> vector() const { return {data_, rows()}; }

  // Reads `array` (named `field` in errors), expecting `rank` dimensions (a
  // rank-1 array is accepted where rank 2 is expected and read as [n, 1]). Adds
  // violations and returns false when it is malformed or has non-finite
  // entries.
  bool Decode(const ot::v1::Array& array, const std::string& field, int rank,
              Violations* violations);

 private:
  bool present_ = false;
  std::vector<int64_t> shape_;
  // Views `count` little-endian doubles at `bytes` when they are aligned to
  // kArrayAlignment, else copies them into aligned storage.
  void ViewOrCopy(const char* bytes, int64_t count);

  // A copy of `count` doubles at kArrayAlignment; returns its storage.
  double* Own(int64_t count);

  struct FreeDeleter {
    void operator()(double* p) const { std::free(p); }
  };
  const double* data_ = nullptr;
  std::unique_ptr<double[], FreeDeleter> owned_;  // kArrayAlignment-aligned
  int64_t owned_count_ = 0;
};

// A decoded transport request: the arrays and the core problem viewing them
// (so it must stay where it was decoded).
struct DecodedTransport {
  ArrayData x, y, a, b, cost_matrix, directions;
  otcore::TransportProblem problem;
  otcore::TransportOptions options;
  // Memory the job will hold beyond its request: array copies and what the
  // solve allocates (the footprint).
  int64_t working_bytes = 0;
};

// The shared fields of DistanceRequest and PlanRequest.
struct TransportFields {
  const ot::v1::Measure& source;
  const ot::v1::Measure& target;
  const ot::v1::Cost& cost;
  ot::v1::Method method;
  const ot::v1::SolverOptions& options;
};

// Fills `out` (with options.compute_plan = compute_plan) or
// returns INVALID_ARGUMENT with the violations found: every malformed array,
// the server's size limits (max_points, and max_cost_entries against what the
// resolved method will allocate, asked of the core), and the first core
// validation error (otcore::ValidateTransport).
absl::Status DecodeTransport(const TransportFields& fields,
                             const Limits& limits, bool compute_plan,
                             DecodedTransport* out);

// The server's size limits, the one place each is checked: `count` points
// (max_points) and `entries` cost / plan entries (max_cost_entries), reported
// under `field`.
void CheckMaxPoints(int64_t count, absl::string_view field,
                    const Limits& limits, Violations* v);
void CheckMaxCostEntries(int64_t entries, absl::string_view field,
                         const Limits& limits, Violations* v);
// d <= max_dense_dimension.
void CheckMaxDenseDimension(int64_t d, absl::string_view field,
                            const Limits& limits, Violations* v);
// RESOURCE_EXHAUSTED, before any solve, when a response part of `bytes` cannot
// fit the message limit.
absl::Status CheckResponseBytes(int64_t bytes, absl::string_view what,
                                int64_t max_bytes);

// cost.kind and cost.p into `spec`, validated (violations under "cost.kind",
// "cost.p").
void DecodeCostSpec(const ot::v1::Cost& cost, Violations* v,
                    otcore::CostSpec* spec);

// A validated Gaussian (mean [d], symmetric PSD covariance [d, d]), or nullopt
// with violations under `field`.
std::optional<otcore::Gaussian> DecodeGaussian(const ot::v1::GaussianParams& g,
                                               const std::string& field,
                                               Violations* v);

// Core -> proto.
void FillDiagnostics(const otcore::Summary& summary, absl::Duration queue_wait,
                     int64_t n, int64_t m, ot::v1::Diagnostics* out);
void FillArray(const double* data, std::vector<int64_t> shape,
               ot::v1::Array* out);

}  // namespace otserve

#endif  // OTSERVE_SERVER_CONVERT_H_
