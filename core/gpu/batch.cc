// Packing, unpacking and the host run of the block Sinkhorn batch.
#include "core/gpu/batch.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace otcore::gpu {
namespace {

template <typename Array>
int64_t Append(const Array& values, std::vector<double>* to) {
  const int64_t at = static_cast<int64_t>(to->size());
  to->insert(to->end(), values.data(), values.data() + values.size());
  return at;
}

}  // namespace

PairCost ToPairCost(const CostSpec& spec) {
  switch (spec.kind) {
    case CostKind::kEuclidean:
      return PairCost::kEuclidean;
    case CostKind::kPower:
      return PairCost::kPower;
    default:
      return PairCost::kSqEuclidean;
  }
}

int64_t PackedBatch::Bytes() const {
  return static_cast<int64_t>(
      8 * (coords.size() + weights.size() + scratch) +
      problems.size() * (sizeof(BlockProblem) + sizeof(BlockOutcome)));
}

int64_t BlockProblemBytes(int64_t n, int64_t m, int64_t d) {
  return 8 * ((n + m) * d + 2 * (n + m) + n + m + 2 * std::max(n, m)) +
         static_cast<int64_t>(sizeof(BlockProblem) + sizeof(BlockOutcome));
}

PackedBatch PackBatch(absl::Span<const SinkhornBatchItem> items) {
  PackedBatch out;
  out.problems.reserve(items.size());
  for (const SinkhornBatchItem& item : items) {
    const auto clouds = item.source.clouds();
    BlockProblem pr;
    pr.n = item.a.size();
    pr.m = item.b.size();
    pr.d = static_cast<int>(clouds->xt->rows());
    pr.kind = ToPairCost(clouds->spec);
    pr.p = clouds->spec.Exponent();
    pr.x = Append(*clouds->xt, &out.coords);
    pr.y = Append(*clouds->yt, &out.coords);
    pr.a = Append(item.a, &out.weights);
    pr.b = Append(item.b, &out.weights);
    pr.log_a = Append(Eigen::ArrayXd(item.a.log()), &out.weights);
    pr.log_b = Append(Eigen::ArrayXd(item.b.log()), &out.weights);
    const int64_t wide = std::max(pr.n, pr.m);
    pr.f = out.scratch;
    pr.g = pr.f + pr.n;
    pr.f_next = pr.g + pr.m;
    pr.shifted = pr.f_next + wide;
    out.scratch = pr.shifted + wide;
    pr.mass = item.a.sum();
    pr.epsilon = item.epsilon;
    pr.eps_start = std::max(item.eps_start, item.epsilon);
    pr.tolerance = item.tolerance;
    pr.max_iterations = item.max_iterations;
    out.problems.push_back(pr);
  }
  return out;
}

void UnpackBatch(const PackedBatch& packed,
                 absl::Span<const BlockOutcome> blocks, const double* scratch,
                 double seconds, std::vector<SinkhornBatchOutcome>* out) {
  out->resize(blocks.size());
  for (size_t k = 0; k < blocks.size(); ++k) {
    const BlockProblem& pr = packed.problems[k];
    const BlockOutcome& o = blocks[k];
    SinkhornBatchOutcome& r = (*out)[k];
    r.cost = o.cost;
    r.regularized_cost = o.regularized;
    r.f = Eigen::Map<const Eigen::VectorXd>(scratch + pr.f, pr.n);
    r.g = Eigen::Map<const Eigen::VectorXd>(scratch + pr.g, pr.m);
    Summary& s = r.summary;
    s.method = Method::kSinkhorn;
    s.iterations = o.iterations;
    s.marginal_error = o.marginal_error;
    s.epsilon = o.epsilon;
    s.seconds = seconds;
    switch (o.termination) {
      case kBlockConverged:
        s.termination = Termination::kConverged;
        break;
      case kBlockNumericalError:
        s.termination = Termination::kNumericalError;
        s.message = "non-finite values in the Sinkhorn iteration";
        break;
      default:
        s.termination = Termination::kIterationLimit;
        s.message = o.epsilon > pr.epsilon
                        ? absl::StrCat("stopped at epsilon stage ", o.epsilon,
                                       " above the target ", pr.epsilon)
                        : absl::StrCat("max_iterations ", pr.max_iterations,
                                       " reached at error ", o.error);
    }
  }
}

absl::Status SolveBatchOnHost(absl::Span<const SinkhornBatchItem> items,
                              std::vector<SinkhornBatchOutcome>* outcomes,
                              const SolveControl& control) {
  const absl::Time start = absl::Now();
  const PackedBatch packed = PackBatch(items);
  std::vector<double> scratch(packed.scratch);
  std::vector<BlockOutcome> blocks(packed.problems.size());
  const SerialBlock block;
  for (size_t k = 0; k < packed.problems.size(); ++k) {
    if (absl::Status s = control.Check(); !s.ok()) return s;
    BlockSinkhorn(block, packed.problems[k], packed.coords.data(),
                  packed.weights.data(), scratch.data(), nullptr, &blocks[k]);
  }
  UnpackBatch(packed, blocks, scratch.data(),
              absl::ToDoubleSeconds(absl::Now() - start), outcomes);
  return absl::OkStatus();
}

}  // namespace otcore::gpu
