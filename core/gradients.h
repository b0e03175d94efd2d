// Gradients of transport values with respect to the point positions and the
// weights, for training losses: from the plan and the potentials a solver
// returns (envelope theorem / Danskin), never by differentiating iterations.
// Entropic plans are reduced matrix-free (one pass over the cost, parallel
// rows); sparse plans (exact, 1-D) term by term. Pure functions; thread-safe.
#ifndef OTSERVE_CORE_GRADIENTS_H_
#define OTSERVE_CORE_GRADIENTS_H_

#include <string>

#include "core/common/control.h"
#include "core/common/cost.h"
#include "core/common/types.h"

namespace otcore {

struct Gradients {
  // d value / d x_i [n, d] and d value / d y_j [m, d].
  RowMatrix source_points, target_points;
  // d value / d a_i [n], d value / d b_j [m]; empty when not given. Balanced
  // problems: the potentials centred to mean zero (the value is defined on
  // measures of equal mass only, so only differences along the simplex
  // count; POT's convention).
  Eigen::VectorXd source_weights, target_weights;
  // The value differentiated: "regularized_value" (entropic methods: the
  // regularised objective is the one the envelope theorem differentiates),
  // "value" or "divergence".
  std::string of;
  // "gradient", or "subgradient" (exact, 1-D, sliced: the value is not
  // differentiable where the optimal plan is not unique).
  std::string kind;
};

// g_i = sum_j P_ij d/dx c(x_i, y_j) with P_ij = exp(u_i + v_j - c(x_i, y_j)
// / eps) (rows with u_i = -inf are empty), into out [n, d]. c: the squared
// Euclidean, Euclidean or power cost of `spec` (a subgradient 0 where x = y
// for p <= 1). The target's gradient is the same call with the roles swapped:
// PlanGradient(y, x, v, u).
void EntropicPlanGradient(const MatrixView& x, const MatrixView& y,
                          const CostSpec& spec, const Eigen::ArrayXd& u,
                          const Eigen::ArrayXd& v, double eps, RowMatrix* out,
                          const SolveControl& control);

// The same for a sparse plan: source and target gradients at once.
void SparsePlanGradients(const MatrixView& x, const MatrixView& y,
                         const CostSpec& spec, const SparsePlan& plan,
                         RowMatrix* source, RowMatrix* target);

// d/dx c(x, y) for the cost of `spec`.
Eigen::RowVectorXd CostGradient(const Eigen::RowVectorXd& x,
                                const Eigen::RowVectorXd& y,
                                const CostSpec& spec);

// Dual potentials of a plan whose support is a forest (exact basic plans,
// the 1-D monotone plan): f_i + g_j = C_ij on every non-zero; each connected
// part starts at 0. Points outside the support get 0.
void TreePotentials(const SparsePlan& plan, const MatrixView& x,
                    const MatrixView& y, const CostSpec& spec,
                    Eigen::VectorXd* f, Eigen::VectorXd* g);

// v - mean(v).
Eigen::VectorXd Centred(const Eigen::VectorXd& v);

}  // namespace otcore

#endif  // OTSERVE_CORE_GRADIENTS_H_
