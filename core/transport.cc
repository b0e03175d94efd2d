// SolveTransport: validation, AUTO, and dispatch through the method table.
#include "core/transport.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/common/iteration.h"
#include "core/common/status_macros.h"
#include "core/common/validate.h"
#include "core/entropic/kernels.h"
#include "core/methods.h"

namespace otcore {
namespace {

bool IsOneDimensional(const TransportProblem& p) {
  return p.cost.kind != CostKind::kExplicit && p.x && p.y && p.x->cols() == 1 &&
         p.y->cols() == 1;
}

// Shapes of the arrays against each other.
absl::Status ValidateShapes(const TransportProblem& p, bool gaussian) {
  const bool explicit_cost = p.cost.kind == CostKind::kExplicit;
  if (explicit_cost) {
    if (!p.cost_matrix) {
      return InvalidField("cost.matrix",
                          "required when cost.kind is COST_KIND_EXPLICIT");
    }
    if (p.x && p.x->rows() != p.cost_matrix->rows()) {
      return InvalidField(
          "source.points",
          absl::StrCat("has ", p.x->rows(), " points, cost.matrix has ",
                       p.cost_matrix->rows(), " rows"));
    }
    if (p.y && p.y->rows() != p.cost_matrix->cols()) {
      return InvalidField(
          "target.points",
          absl::StrCat("has ", p.y->rows(), " points, cost.matrix has ",
                       p.cost_matrix->cols(), " columns"));
    }
  } else {
    if (p.cost_matrix) {
      return InvalidField("cost.matrix",
                          "only allowed with COST_KIND_EXPLICIT");
    }
    if (!p.x && !(gaussian && p.source_gaussian)) {
      return InvalidField("source.points",
                          "required unless cost.kind is COST_KIND_EXPLICIT");
    }
    if (!p.y && !(gaussian && p.target_gaussian)) {
      return InvalidField("target.points",
                          "required unless cost.kind is COST_KIND_EXPLICIT");
    }
  }
  if (!gaussian && (p.source_gaussian || p.target_gaussian)) {
    return InvalidField(
        p.source_gaussian ? "source.gaussian" : "target.gaussian",
        "only allowed with METHOD_GAUSSIAN");
  }
  if (p.x && p.y && p.x->cols() != p.y->cols()) {
    return InvalidField(
        "target.points",
        absl::StrCat("dimension ", p.y->cols(),
                     " differs from source.points dimension ", p.x->cols()));
  }
  if (p.source_gaussian && p.target_gaussian &&
      p.source_gaussian->mean.size() != p.target_gaussian->mean.size()) {
    return InvalidField("target.gaussian.mean",
                        "dimension differs from the source's");
  }
  const int64_t n_points = p.x             ? p.x->rows()
                           : p.cost_matrix ? p.cost_matrix->rows()
                                           : -1;
  const int64_t m_points = p.y             ? p.y->rows()
                           : p.cost_matrix ? p.cost_matrix->cols()
                                           : -1;
  if (p.a && n_points >= 0 && p.a->size() != n_points) {
    return InvalidField(
        "source.weights",
        absl::StrCat("has ", p.a->size(), " entries but the measure has ",
                     n_points, " points"));
  }
  if (p.b && m_points >= 0 && p.b->size() != m_points) {
    return InvalidField(
        "target.weights",
        absl::StrCat("has ", p.b->size(), " entries but the measure has ",
                     m_points, " points"));
  }
  if (!gaussian && (p.n() == 0 || p.m() == 0)) {
    return InvalidField(p.n() == 0 ? "source" : "target",
                        "empty measures are not allowed");
  }
  return absl::OkStatus();
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

absl::Status TransportOptions::Validate() const {
  RETURN_IF_ERROR(epsilon.Validate());
  if (tolerance) {
    RETURN_IF_ERROR(CheckTolerance(*tolerance, /*below_one=*/true));
  }
  if (max_iterations) RETURN_IF_ERROR(CheckMaxIterations(*max_iterations));
  if (marginal_relaxation && !(*marginal_relaxation > 0)) {
    return InvalidField(
        "options.marginal_relaxation",
        absl::StrCat("must be > 0, got ", *marginal_relaxation));
  }
  if (method == Method::kUnbalanced && !marginal_relaxation) {
    return InvalidField("options.marginal_relaxation",
                        "required for METHOD_UNBALANCED_SINKHORN");
  }
  if (num_directions < 1 || num_directions > 1'000'000) {
    return InvalidField(
        "options.num_directions",
        absl::StrCat("must be in [1, 1e6], got ", num_directions));
  }
  return absl::OkStatus();
}

Method ChooseMethod(const TransportProblem& problem) {
  if (IsOneDimensional(problem)) return Method::kOneD;
  if (problem.n() * problem.m() <= kAutoExactMaxEntries) return Method::kExact;
  return Method::kSinkhorn;
}

Method ResolveMethod(const TransportProblem& problem,
                     const TransportOptions& options) {
  return options.method == Method::kAuto ? ChooseMethod(problem)
                                         : options.method;
}

absl::Status ValidateTransport(const TransportProblem& p,
                               const TransportOptions& options) {
  RETURN_IF_ERROR(p.cost.Validate());
  RETURN_IF_ERROR(options.Validate());
  const bool gaussian = options.method == Method::kGaussian;
  RETURN_IF_ERROR(ValidateShapes(p, gaussian));
  if (p.a) RETURN_IF_ERROR(ValidateWeights(*p.a, "source.weights"));
  if (p.b) RETURN_IF_ERROR(ValidateWeights(*p.b, "target.weights"));
  const MethodInfo& info = InfoOf(ResolveMethod(p, options));
  const std::string name(info.name);
  if (info.sqeuclidean_only && p.cost.kind != CostKind::kSqEuclidean) {
    return InvalidField("cost.kind", absl::StrCat("method ", name,
                                                  " needs the squared "
                                                  "Euclidean cost"));
  }
  if (info.needs_1d && !IsOneDimensional(p)) {
    return InvalidField("method", absl::StrCat("method ", name,
                                               " needs 1-D points (shape [n] "
                                               "or [n, 1]) and a non-explicit "
                                               "cost"));
  }
  if (info.needs_clouds && p.cost.kind == CostKind::kExplicit) {
    return InvalidField("method", absl::StrCat("method ", name,
                                               " needs point clouds, not an "
                                               "explicit cost"));
  }
  if (p.directions && p.x && p.directions->cols() != p.x->cols()) {
    return InvalidField(
        "options.directions",
        absl::StrCat("must have ", p.x->cols(), " columns (the dimension)"));
  }
  if (options.compute_gradients) {
    if (!p.x || !p.y || p.cost.kind == CostKind::kExplicit) {
      return InvalidField("options.return_gradients",
                          "gradients are with respect to the points: give "
                          "source.points and target.points, not an explicit "
                          "cost");
    }
    if (!info.gradients) {
      return absl::UnimplementedError(absl::StrCat(
          "options.return_gradients: not built for method ", name,
          " (built: exact, 1d, sinkhorn, unbalanced, sliced, max_sliced)"));
    }
  }
  // Absent weights are uniform, of mass 1.
  if (info.balanced) {
    return ValidateBalancedMasses(p.a ? p.a->sum() : 1.0,
                                  p.b ? p.b->sum() : 1.0);
  }
  return absl::OkStatus();
}

Footprint TransportFootprint(const TransportProblem& problem,
                             const TransportOptions& options) {
  TransportOptions resolved = options;
  resolved.method = ResolveMethod(problem, options);
  const MethodInfo& info = InfoOf(resolved.method);
  return info.footprint ? info.footprint(problem, resolved) : Footprint{};
}

namespace {

// A validated problem with its weights given (uniform when absent) and its
// method resolved: what the solvers are called with. Not movable (the
// problem views the uniform weights).
struct Prepared {
  Prepared(const TransportProblem& problem, const TransportOptions& options)
      : p(problem), resolved(options) {
    resolved.method = ResolveMethod(problem, options);
    if (!p.a && (p.x || p.cost_matrix)) {
      uniform_a = Eigen::VectorXd::Constant(p.n(), 1.0 / p.n());
      p.a.emplace(uniform_a);
    }
    if (!p.b && (p.y || p.cost_matrix)) {
      uniform_b = Eigen::VectorXd::Constant(p.m(), 1.0 / p.m());
      p.b.emplace(uniform_b);
    }
  }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  TransportProblem p;
  TransportOptions resolved;
  Eigen::VectorXd uniform_a, uniform_b;
};

// What every solve's result gets: AUTO's note, the distance, the finiteness
// check.
void Finish(const TransportProblem& problem, const TransportOptions& options,
            const Prepared& prepared, TransportResult* result) {
  if (options.method == Method::kAuto &&
      InfoOf(prepared.resolved.method).entropic) {
    // Say plainly that AUTO approximated.
    result->summary.message = absl::StrCat(
        "AUTO approximated with entropic Sinkhorn (epsilon ",
        result->summary.epsilon,
        ") because n * m = ", prepared.p.n() * prepared.p.m(), " exceeds ",
        kAutoExactMaxEntries,
        "; value includes the entropic blur, ask for METHOD_EXACT for the "
        "exact value",
        result->summary.message.empty() ? "" : "; ", result->summary.message);
  }
  if (problem.cost.kind != CostKind::kExplicit && result->distance == 0.0) {
    result->distance =
        std::pow(std::max(result->value, 0.0), 1.0 / problem.cost.Exponent());
  }
  CheckFiniteValue(result->value, &result->summary);
}

// Whether a batch's kernels take this item whole: balanced Sinkhorn between
// point clouds, no plan, a size the kernels take.
bool Batchable(const Prepared& pr, const EntropicKernels& kernels) {
  const TransportProblem& p = pr.p;
  return pr.resolved.method == Method::kSinkhorn && p.x && p.y &&
         p.cost.kind != CostKind::kExplicit && !pr.resolved.compute_plan &&
         kernels.TakesInBatch(p.n(), p.m(), p.x->cols());
}

}  // namespace

absl::StatusOr<TransportResult> SolveTransport(const TransportProblem& problem,
                                               const TransportOptions& options,
                                               const SolveControl& control) {
  RETURN_IF_ERROR(ValidateTransport(problem, options));
  const Prepared prepared(problem, options);
  ASSIGN_OR_RETURN(TransportResult result,
                   InfoOf(prepared.resolved.method)
                       .solve(prepared.p, prepared.resolved, control));
  Finish(problem, options, prepared, &result);
  return result;
}

absl::Status SolveTransportBatch(
    absl::Span<const TransportProblem> problems,
    absl::Span<const TransportOptions> options, const SolveControl& control,
    std::vector<absl::StatusOr<TransportResult>>* results) {
  const size_t count = problems.size();
  results->assign(count, absl::UnknownError("not solved"));
  const EntropicKernels& kernels = KernelsFor(control);
  std::vector<std::unique_ptr<Prepared>> prepared(count);
  std::vector<SinkhornBatchItem> items;
  std::vector<size_t> item_of;  // batch item -> problem
  std::vector<size_t> alone;    // problems solved one at a time
  for (size_t k = 0; k < count; ++k) {
    if (absl::Status s = ValidateTransport(problems[k], options[k]); !s.ok()) {
      (*results)[k] = s;
      continue;
    }
    prepared[k] = std::make_unique<Prepared>(problems[k], options[k]);
    const Prepared& pr = *prepared[k];
    if (!Batchable(pr, kernels)) {
      alone.push_back(k);
      continue;
    }
    auto setup = SetUpEntropic(pr.p, pr.resolved, /*formed=*/nullptr);
    if (!setup.ok()) {
      (*results)[k] = setup.status();
      continue;
    }
    SinkhornBatchItem item{setup->source, pr.p.a->array(), pr.p.b->array()};
    item.b *= item.a.sum() / item.b.sum();  // as SolveSinkhorn: b at a's mass
    item.epsilon = setup->options.epsilon;
    item.eps_start = setup->options.epsilon_scaling
                         ? std::max(item.epsilon, setup->source.Range())
                         : item.epsilon;
    item.tolerance = setup->options.tolerance;
    item.max_iterations = setup->options.max_iterations;
    items.push_back(std::move(item));
    item_of.push_back(k);
  }
  if (!items.empty()) {
    std::vector<SinkhornBatchOutcome> outcomes;
    absl::Status s = kernels.SolveBatch(items, &outcomes, control);
    RETURN_IF_ERROR(control.Check());
    if (s.ok()) {
      for (size_t t = 0; t < items.size(); ++t) {
        const size_t k = item_of[t];
        SinkhornResult r;
        r.cost = outcomes[t].cost;
        r.regularized_cost = outcomes[t].regularized_cost;
        r.f = std::move(outcomes[t].f);
        r.g = std::move(outcomes[t].g);
        r.summary = std::move(outcomes[t].summary);
        TransportResult result =
            FromSinkhorn(std::move(r), prepared[k]->resolved);
        Finish(problems[k], options[k], *prepared[k], &result);
        (*results)[k] = std::move(result);
      }
    } else {
      // A device failure: these items are solved one at a time instead.
      alone.insert(alone.end(), item_of.begin(), item_of.end());
    }
  }
  for (size_t k : alone) {
    RETURN_IF_ERROR(control.Check());
    (*results)[k] = SolveTransport(problems[k], options[k], control);
  }
  return control.Check();
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
