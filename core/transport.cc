// Method dispatch and cost formation for SolveTransport.
#include "core/transport.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/entropic/sinkhorn.h"
#include "core/exact/network_simplex.h"
#include "core/exact/one_d.h"
#include "core/sliced/sliced.h"

namespace otcore {
namespace {

constexpr double kDefaultRelativeEpsilon = 0.05;
// Entropic point-cloud problems are solved matrix-free up to this dimension
// (tiles from coordinate differences cost about as much as reading a stored
// matrix), and at any dimension beyond this many cost entries (256 MB).
constexpr int64_t kMatrixFreeMaxDim = 16;
constexpr int64_t kMatrixFreeMinEntries = int64_t{1} << 25;

bool IsOneDimensional(const TransportProblem& p) {
  return p.cost.kind != CostKind::kExplicit && p.x && p.y && p.x->cols() == 1 &&
         p.y->cols() == 1;
}

// METHOD kGaussian: closed form between the given or fitted Gaussians.
absl::StatusOr<TransportResult> SolveGaussian(const TransportProblem& problem,
                                              const TransportOptions& options) {
  if (problem.cost.kind != CostKind::kSqEuclidean) {
    return absl::InvalidArgumentError(
        "the Gaussian closed form is for the squared Euclidean cost");
  }
  auto side =
      [](const std::optional<Gaussian>& given,
         const std::optional<MatrixView>& points,
         const std::optional<VectorView>& weights) -> absl::StatusOr<Gaussian> {
    if (given) return *given;
    if (!points)
      return absl::InvalidArgumentError("points or a Gaussian are required");
    const Eigen::VectorXd uniform =
        Eigen::VectorXd::Constant(points->rows(), 1.0 / points->rows());
    return FitGaussian(*points, weights ? *weights : VectorView(uniform));
  };
  ASSIGN_OR_RETURN(Gaussian g1,
                   side(problem.source_gaussian, problem.x, problem.a));
  ASSIGN_OR_RETURN(Gaussian g2,
                   side(problem.target_gaussian, problem.y, problem.b));
  ASSIGN_OR_RETURN(GaussianW2Result w2, GaussianW2(g1, g2));
  TransportResult result;
  result.value = w2.value;
  result.distance = std::sqrt(w2.value);
  result.summary = w2.summary;
  if (options.compute_plan) {
    ASSIGN_OR_RETURN(LinearMap map, GaussianMongeMap(g1, g2));
    result.linear_map = std::move(map);
  }
  return result;
}

}  // namespace

int64_t TransportProblem::n() const {
  if (a) return a->size();
  if (x) return x->rows();
  return cost_matrix ? cost_matrix->rows() : 0;
}

int64_t TransportProblem::m() const {
  if (b) return b->size();
  if (y) return y->rows();
  return cost_matrix ? cost_matrix->cols() : 0;
}

Method ChooseMethod(const TransportProblem& problem) {
  if (IsOneDimensional(problem)) return Method::kOneD;
  if (problem.n() * problem.m() <= kAutoExactMaxEntries) return Method::kExact;
  return Method::kSinkhorn;
}

// Solves without the derived `distance`; SolveTransport adds it.
static absl::StatusOr<TransportResult> SolveTransportValue(
    const TransportProblem& problem, const TransportOptions& options,
    const SolveControl& control) {
  RETURN_IF_ERROR(problem.cost.Validate());
  if (options.method == Method::kGaussian)
    return SolveGaussian(problem, options);
  const int64_t n = problem.n(), m = problem.m();
  if (n == 0 || m == 0) {
    return absl::InvalidArgumentError("source and target must be non-empty");
  }
  const Eigen::VectorXd uniform_a = Eigen::VectorXd::Constant(n, 1.0 / n);
  const Eigen::VectorXd uniform_b = Eigen::VectorXd::Constant(m, 1.0 / m);
  const VectorView a = problem.a ? *problem.a : VectorView(uniform_a);
  const VectorView b = problem.b ? *problem.b : VectorView(uniform_b);
  if (problem.cost.kind != CostKind::kExplicit) {
    if (!problem.x || !problem.y) {
      return absl::InvalidArgumentError(
          "points are required unless the cost is explicit");
    }
    if (problem.x->rows() != n || problem.y->rows() != m) {
      return absl::InvalidArgumentError("weights and points differ in length");
    }
    if (problem.x->cols() != problem.y->cols()) {
      return absl::InvalidArgumentError(
          absl::StrCat("source points have dimension ", problem.x->cols(),
                       " but target points have ", problem.y->cols()));
    }
  } else if (!problem.cost_matrix) {
    return absl::InvalidArgumentError("explicit cost without a cost matrix");
  }

  const Method method =
      options.method == Method::kAuto ? ChooseMethod(problem) : options.method;
  TransportResult result;
  if (method == Method::kSliced || method == Method::kMaxSliced) {
    if (problem.cost.kind == CostKind::kExplicit) {
      return absl::InvalidArgumentError("sliced methods need point clouds");
    }
    SlicedOptions so;
    so.num_directions = options.num_directions;
    so.seed = options.seed;
    so.p = problem.cost.Exponent();
    so.max_sliced = method == Method::kMaxSliced;
    ASSIGN_OR_RETURN(SlicedResult r,
                     SolveSliced(*problem.x, a, *problem.y, b, so,
                                 problem.directions, control));
    result.value = r.value;
    result.distance = r.distance;
    result.summary = std::move(r.summary);
    return result;
  }
  if (method == Method::kOneD) {
    if (!IsOneDimensional(problem)) {
      return absl::InvalidArgumentError(
          "method 1d needs 1-D point clouds and a non-explicit cost");
    }
    ASSIGN_OR_RETURN(
        OneDResult r,
        SolveOneD(problem.x->col(0), a, problem.y->col(0), b,
                  problem.cost.Exponent(), control, options.compute_plan));
    result.value = r.cost;
    if (options.compute_plan) result.sparse_plan = std::move(r.plan);
    result.summary = std::move(r.summary);
    return result;
  }

  // Entropic methods on point clouds run matrix-free when the cost is cheap to
  // evaluate (low dimension) or a dense matrix would be large.
  const bool explicit_cost = problem.cost.kind == CostKind::kExplicit;
  const bool entropic =
      method == Method::kSinkhorn || method == Method::kUnbalanced;
  const bool matrix_free = entropic && !explicit_cost &&
                           (problem.x->cols() <= kMatrixFreeMaxDim ||
                            problem.n() * problem.m() > kMatrixFreeMinEntries);
  // Other methods: view the explicit matrix or form it once.
  RowMatrix formed;
  if (!explicit_cost && !matrix_free) {
    formed = PairwiseCost(*problem.x, *problem.y, problem.cost);
  }
  const MatrixView cost =
      explicit_cost ? *problem.cost_matrix : MatrixView(formed);
  const CostSource source =
      matrix_free ? CostSource::Clouds(*problem.x, *problem.y, problem.cost)
                  : CostSource::Dense(cost);

  if (method == Method::kExact) {
    ExactOptions eo;
    if (options.max_iterations) eo.max_iterations = *options.max_iterations;
    ASSIGN_OR_RETURN(ExactResult r, SolveExact(a, b, cost, eo, control));
    result.value = r.cost;
    if (options.compute_plan) {
      result.sparse_plan = std::move(r.plan);
      result.f = std::move(r.f);
      result.g = std::move(r.g);
    }
    result.summary = std::move(r.summary);
    return result;
  }
  if (method == Method::kSinkhorn || method == Method::kUnbalanced) {
    SinkhornOptions so;
    if (method == Method::kUnbalanced) {
      if (!options.marginal_relaxation) {
        return absl::InvalidArgumentError(
            "unbalanced OT needs marginal_relaxation (lambda, POT's reg_m)");
      }
      so.marginal_relaxation = *options.marginal_relaxation;
    }
    double eps = options.epsilon.value_or(kDefaultRelativeEpsilon);
    if (!options.epsilon ||
        options.epsilon_scale == EpsilonScale::kRelativeToMeanCost) {
      eps *= source.Mean();
    }
    so.epsilon = eps;
    if (options.tolerance) so.tolerance = *options.tolerance;
    if (options.max_iterations) so.max_iterations = *options.max_iterations;
    so.epsilon_scaling = options.epsilon_scaling;
    so.compute_plan = options.compute_plan;
    if (!(eps > 0.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("epsilon resolves to ", eps,
                       "; it must be > 0 (an all-zero cost "
                       "needs an absolute epsilon)"));
    }
    ASSIGN_OR_RETURN(SinkhornResult r,
                     SolveSinkhorn(a, b, source, so, control));
    result.value = r.cost;
    result.regularized_value = r.regularized_cost;
    if (options.compute_plan) {
      result.dense_plan = std::move(r.plan);
      result.f = std::move(r.f);
      result.g = std::move(r.g);
    }
    result.summary = std::move(r.summary);
    return result;
  }
  return absl::UnimplementedError(
      absl::StrCat("method ", MethodName(method), " is not implemented"));
}

absl::StatusOr<TransportResult> SolveTransport(const TransportProblem& problem,
                                               const TransportOptions& options,
                                               const SolveControl& control) {
  ASSIGN_OR_RETURN(TransportResult result,
                   SolveTransportValue(problem, options, control));
  if (problem.cost.kind != CostKind::kExplicit && result.distance == 0.0) {
    result.distance =
        std::pow(std::max(result.value, 0.0), 1.0 / problem.cost.Exponent());
  }
  return result;
}

RowMatrix Densify(const SparsePlan& plan, int64_t n, int64_t m) {
  RowMatrix dense = RowMatrix::Zero(n, m);
  for (size_t k = 0; k < plan.values.size(); ++k) {
    dense(plan.rows[k], plan.cols[k]) += plan.values[k];
  }
  return dense;
}

SparsePlan Sparsify(const MatrixView& plan) {
  SparsePlan sparse;
  for (Eigen::Index i = 0; i < plan.rows(); ++i) {
    for (Eigen::Index j = 0; j < plan.cols(); ++j) {
      if (plan(i, j) != 0.0) {
        sparse.rows.push_back(i);
        sparse.cols.push_back(j);
        sparse.values.push_back(plan(i, j));
      }
    }
  }
  return sparse;
}

}  // namespace otcore
