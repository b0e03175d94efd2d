// The method table and the adapters from TransportProblem to each family's
// solver.
#include "core/methods.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/common/cost.h"
#include "core/common/status_macros.h"
#include "core/entropic/kernel_cache.h"
#include "core/entropic/kernels.h"
#include "core/entropic/sinkhorn.h"
#include "core/exact/network_simplex.h"
#include "core/exact/one_d.h"
#include "core/gaussian/gaussian.h"
#include "core/gradients.h"
#include "core/sliced/sliced.h"

namespace otcore {
namespace {

// Moves a family result's dual potentials into the transport result.
template <typename FamilyResult>
void TakePotentials(FamilyResult* from, TransportResult* to) {
  to->f = std::move(from->f);
  to->g = std::move(from->g);
}

bool Explicit(const TransportProblem& p) {
  return p.cost.kind == CostKind::kExplicit;
}

// METHOD kGaussian: closed form between the given or fitted Gaussians.
absl::StatusOr<TransportResult> SolveGaussianMethod(
    const TransportProblem& p, const TransportOptions& options,
    const SolveControl& control) {
  auto side =
      [&control](
          const std::optional<Gaussian>& given,
          const std::optional<MatrixView>& points,
          const std::optional<VectorView>& w) -> absl::StatusOr<Gaussian> {
    if (given) return *given;
    return FitGaussian(*points, *w, &control);
  };
  ASSIGN_OR_RETURN(Gaussian g1, side(p.source_gaussian, p.x, p.a));
  ASSIGN_OR_RETURN(Gaussian g2, side(p.target_gaussian, p.y, p.b));
  RETURN_IF_ERROR(control.Check());
  ASSIGN_OR_RETURN(GaussianW2Result w2, GaussianW2(g1, g2, &control));
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

absl::StatusOr<TransportResult> SolveSlicedMethod(
    const TransportProblem& p, const TransportOptions& options,
    const SolveControl& control) {
  SlicedOptions so;
  so.num_directions = options.num_directions;
  so.seed = options.seed;
  so.p = p.cost.Exponent();
  so.max_sliced = options.method == Method::kMaxSliced;
  so.compute_gradients = options.compute_gradients;
  ASSIGN_OR_RETURN(SlicedResult r, SolveSliced(*p.x, *p.a, *p.y, *p.b, so,
                                               p.directions, control));
  TransportResult result;
  result.value = r.value;
  result.distance = r.distance;
  result.gradients = std::move(r.gradients);
  result.summary = std::move(r.summary);
  return result;
}

absl::StatusOr<TransportResult> SolveOneDMethod(const TransportProblem& p,
                                                const TransportOptions& options,
                                                const SolveControl& control) {
  ASSIGN_OR_RETURN(
      OneDResult r,
      SolveOneD(p.x->col(0), *p.a, p.y->col(0), *p.b, p.cost.Exponent(),
                control, options.compute_plan || options.compute_gradients));
  TransportResult result;
  result.value = r.cost;
  if (options.compute_gradients) {
    Gradients& gr = result.gradients.emplace();
    SparsePlanGradients(*p.x, *p.y, p.cost, r.plan, &gr.source_points,
                        &gr.target_points);
    Eigen::VectorXd f, g;
    TreePotentials(r.plan, *p.x, *p.y, p.cost, &f, &g);
    gr.source_weights = Centred(f);
    gr.target_weights = Centred(g);
    gr.of = "value";
    gr.kind = "subgradient";
  }
  if (options.compute_plan) result.sparse_plan = std::move(r.plan);
  result.summary = std::move(r.summary);
  return result;
}

absl::StatusOr<TransportResult> SolveExactMethod(
    const TransportProblem& p, const TransportOptions& options,
    const SolveControl& control) {
  RowMatrix formed;
  if (!Explicit(p)) formed = PairwiseCost(*p.x, *p.y, p.cost);
  const MatrixView cost = Explicit(p) ? *p.cost_matrix : MatrixView(formed);
  ExactOptions eo;
  if (options.max_iterations) eo.max_iterations = *options.max_iterations;
  ASSIGN_OR_RETURN(ExactResult r, SolveExact(*p.a, *p.b, cost, eo, control));
  TransportResult result;
  result.value = r.cost;
  if (options.compute_gradients) {
    Gradients& gr = result.gradients.emplace();
    SparsePlanGradients(*p.x, *p.y, p.cost, r.plan, &gr.source_points,
                        &gr.target_points);
    gr.source_weights = Centred(r.f);
    gr.target_weights = Centred(r.g);
    gr.of = "value";
    gr.kind = "subgradient";
  }
  if (options.compute_plan) {
    result.sparse_plan = std::move(r.plan);
    TakePotentials(&r, &result);
  }
  result.summary = std::move(r.summary);
  return result;
}

// The envelope-theorem gradients of a Sinkhorn solve's regularised value:
// positions from the plan (matrix-free); weights: balanced, the centred
// potentials; unbalanced, eps (m(b) - r_i / a_i) + lambda (1 - r_i / a_i)
// with r = P 1 (the derivative of the regularised objective at the optimal
// plan), and the same for b with the column sums.
Gradients EntropicGradients(const TransportProblem& p,
                            const EntropicSetup& setup, const SinkhornResult& r,
                            const SolveControl& control) {
  const double eps = r.summary.epsilon;
  const SinkhornOptions& so = setup.options;
  const bool balanced = std::isinf(so.marginal_relaxation);
  const Eigen::ArrayXd wa = p.a->array();
  const Eigen::ArrayXd wb =
      balanced ? Eigen::ArrayXd(p.b->array() * (wa.sum() / p.b->sum()))
               : Eigen::ArrayXd(p.b->array());
  const Eigen::ArrayXd f = r.f.array(), g = r.g.array();
  const Eigen::ArrayXd u = f / eps + wa.log(), v = g / eps + wb.log();
  Gradients gr;
  EntropicPlanGradient(*p.x, *p.y, p.cost, u, v, eps, &gr.source_points,
                       control);
  EntropicPlanGradient(*p.y, *p.x, p.cost, v, u, eps, &gr.target_points,
                       control);
  gr.of = "regularized_value";
  gr.kind = "gradient";
  if (balanced) {
    gr.source_weights = Centred(r.f);
    gr.target_weights = Centred(r.g);
    return gr;
  }
  // Marginals of the plan: r_i = a_i exp((f_i - T(g)_i) / eps).
  const EntropicKernels& k = KernelsFor(control);
  Eigen::ArrayXd tg, tf;
  k.RowSoftMin(setup.source, g, wb.log(), eps, &tg, control);
  k.ColSoftMin(setup.source, f, wa.log(), eps, &tf, control);
  const double lambda = so.marginal_relaxation;
  auto side = [&](const Eigen::ArrayXd& w, const Eigen::ArrayXd& pot,
                  const Eigen::ArrayXd& soft, double other_mass) {
    // r_i / a_i (0 where a_i = 0: no mass, no plan row).
    const Eigen::ArrayXd ratio =
        (w > 0).select(((pot - soft) / eps).exp(), 0.0);
    return Eigen::VectorXd(eps * (other_mass - ratio) + lambda * (1 - ratio));
  };
  gr.source_weights = side(wa, f, tg, wb.sum());
  gr.target_weights = side(wb, g, tf, wa.sum());
  return gr;
}

// kSinkhorn and kUnbalanced.
absl::StatusOr<TransportResult> SolveEntropicMethod(
    const TransportProblem& p, const TransportOptions& options,
    const SolveControl& control) {
  RowMatrix formed;
  ASSIGN_OR_RETURN(const EntropicSetup setup,
                   SetUpEntropic(p, options, &formed));
  ASSIGN_OR_RETURN(SinkhornResult r, SolveSinkhorn(*p.a, *p.b, setup.source,
                                                   setup.options, control));
  std::optional<Gradients> gradients;
  if (options.compute_gradients) {
    gradients = EntropicGradients(p, setup, r, control);
  }
  TransportResult result = FromSinkhorn(std::move(r), options);
  result.gradients = std::move(gradients);
  return result;
}

int64_t Dimension(const TransportProblem& p) {
  if (p.x) return p.x->cols();
  if (p.source_gaussian) return p.source_gaussian->mean.size();
  return 0;
}

Footprint ExactFootprint(const TransportProblem& p, const TransportOptions&) {
  return {p.n() * p.m(), 0};
}

// The cost (unless matrix-free), the dense plan when asked for, and the
// kernel small solves keep in memory (KernelCache).
Footprint EntropicFootprint(const TransportProblem& p,
                            const TransportOptions& o) {
  const int64_t nm = p.n() * p.m();
  const bool matrix_free = RunsMatrixFree(p, InfoOf(o.method));
  Footprint f;
  f.entries = (matrix_free ? 0 : nm) + (o.compute_plan ? nm : 0);
  f.cache_entries = KernelCache::Applies(p.n(), p.m()) ? nm : 0;
  return f;
}

Footprint NoFootprint(const TransportProblem&, const TransportOptions&) {
  return {};
}

// The directions, L x d.
Footprint SlicedFootprint(const TransportProblem& p,
                          const TransportOptions& o) {
  const int64_t d = Dimension(p);
  const int64_t l = p.directions ? 0 : o.num_directions;
  return {l * d, 0, "options.num_directions"};
}

// A few d x d matrices and their eigendecompositions.
Footprint GaussianFootprint(const TransportProblem& p,
                            const TransportOptions&) {
  const int64_t d = Dimension(p);
  return {8 * d * d, d, p.x ? "source.points" : "source.gaussian.mean"};
}

using PK = PlanKind;
using CM = CostMemory;
// clang-format off
constexpr MethodInfo kMethods[] = {
//  method               name          plan            pot.   clouds 1d     sqeuc  balan. entrop. grads  cost memory                  footprint          solve
  {Method::kAuto,       "auto",       PK::kNone,      false, false, false, false, true,  false, false, CM::kNone,                  nullptr, nullptr},
  {Method::kExact,      "exact",      PK::kSparse,    true,  false, false, false, true,  false, true,  CM::kDense,                 ExactFootprint, SolveExactMethod},
  {Method::kSinkhorn,   "sinkhorn",   PK::kDense,     true,  false, false, false, true,  true,  true,  CM::kDenseUnlessMatrixFree, EntropicFootprint, SolveEntropicMethod},
  {Method::kOneD,       "1d",         PK::kSparse,    false, true,  true,  false, true,  false, true,  CM::kNone,                  NoFootprint, SolveOneDMethod},
  {Method::kUnbalanced, "unbalanced", PK::kDense,     true,  false, false, false, false, true,  true,  CM::kDenseUnlessMatrixFree, EntropicFootprint, SolveEntropicMethod},
  {Method::kSliced,     "sliced",     PK::kNone,      false, true,  false, false, true,  false, true,  CM::kNone,                  SlicedFootprint, SolveSlicedMethod},
  {Method::kMaxSliced,  "max_sliced", PK::kNone,      false, true,  false, false, true,  false, true,  CM::kNone,                  SlicedFootprint, SolveSlicedMethod},
  {Method::kGaussian,   "gaussian",   PK::kLinearMap, false, false, false, true,  false, false, false, CM::kNone,                  GaussianFootprint, SolveGaussianMethod},
};
// clang-format on

}  // namespace

absl::StatusOr<EntropicSetup> SetUpEntropic(const TransportProblem& p,
                                            const TransportOptions& options,
                                            RowMatrix* formed) {
  EntropicSetup setup{Explicit(p) ? CostSource::Dense(*p.cost_matrix)
                      : formed
                          ? CostSource::ForClouds(*p.x, *p.y, p.cost, formed)
                          : CostSource::Clouds(*p.x, *p.y, p.cost),
                      SinkhornOptions()};
  SinkhornOptions& so = setup.options;
  if (options.method == Method::kUnbalanced) {
    so.marginal_relaxation = *options.marginal_relaxation;
  }
  ASSIGN_OR_RETURN(so.epsilon,
                   options.epsilon.Resolve(
                       options.epsilon.relative() ? setup.source.Mean() : 1.0));
  if (options.tolerance) so.tolerance = *options.tolerance;
  if (options.max_iterations) so.max_iterations = *options.max_iterations;
  so.epsilon_scaling = options.epsilon_scaling;
  so.compute_plan = options.compute_plan;
  return setup;
}

TransportResult FromSinkhorn(SinkhornResult r,
                             const TransportOptions& options) {
  TransportResult result;
  result.value = r.cost;
  result.regularized_value = r.regularized_cost;
  if (options.compute_plan) {
    result.dense_plan = std::move(r.plan);
    TakePotentials(&r, &result);
  }
  result.summary = std::move(r.summary);
  return result;
}

absl::Span<const MethodInfo> AllMethods() { return kMethods; }

const MethodInfo& InfoOf(Method method) {
  for (const MethodInfo& info : kMethods) {
    if (info.method == method) return info;
  }
  return kMethods[0];  // unreachable: every Method has a row (tested)
}

absl::string_view MethodName(Method method) { return InfoOf(method).name; }

bool RunsMatrixFree(const TransportProblem& p, const MethodInfo& method) {
  return method.cost_memory == CostMemory::kDenseUnlessMatrixFree &&
         !Explicit(p) && p.x && PreferMatrixFree(p.n(), p.m(), p.x->cols());
}

}  // namespace otcore
