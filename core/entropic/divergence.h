// Divergences between point clouds: the debiased Sinkhorn divergence
//   S_eps(a, b) = OT_eps(a, b) - 1/2 OT_eps(a, a) - 1/2 OT_eps(b, b),
// OT_eps = <P, C> + eps KL(P | a b^T) (OTT-JAX / GeomLoss); unbalanced (with
// sinkhorn.marginal_relaxation = lambda): OT_eps adds lambda KL penalties on
// both marginals and S gains + eps/2 (m(a) - m(b))^2 (Sejourne et al. 2019);
// its variant without the entropic terms (POT's empirical_sinkhorn_divergence,
// OT_eps = <P, C>), and kernel MMDs as GeomLoss defines them.
// Thread-compatible.
#ifndef OTSERVE_CORE_ENTROPIC_DIVERGENCE_H_
#define OTSERVE_CORE_ENTROPIC_DIVERGENCE_H_

#include "absl/status/statusor.h"
#include "core/common/control.h"
#include "core/common/cost.h"
#include "core/common/types.h"
#include "core/entropic/epsilon.h"
#include "core/entropic/sinkhorn.h"
#include "core/gradients.h"

namespace otcore {

enum class DivergenceKind {
  kSinkhorn,           // debiased, entropic terms included (OTT, GeomLoss)
  kSinkhornNoEntropy,  // debiased with <P, C> only (POT)
  kEnergy,             // MMD with k(x, y) = -||x - y||
  kGaussianMmd,        // MMD with k(x, y) = exp(-||x - y||^2 / (2 blur^2))
  kLaplacianMmd,       // MMD with k(x, y) = exp(-||x - y|| / blur)
};

struct DivergenceOptions {
  DivergenceKind kind = DivergenceKind::kSinkhorn;
  // Sinkhorn kinds: epsilon, given absolutely or relative to the mean of the
  // cross cost C(x, y) (absent: the default relative epsilon).
  EpsilonSpec epsilon;
  // Sinkhorn kinds: tolerance, max_iterations, scaling, marginal_relaxation
  // (sinkhorn.epsilon is set from `epsilon`).
  SinkhornOptions sinkhorn;
  // Kernel bandwidth for the Gaussian and Laplacian MMDs, > 0.
  double blur = 1.0;
  // kSinkhorn: the gradients of value (core/gradients.h); point weights are
  // not given for the unbalanced divergence.
  bool compute_gradients = false;
};

struct DivergenceResult {
  double value = 0.0;
  // Sinkhorn kinds: OT_eps(a, b), OT_eps(a, a), OT_eps(b, b) as defined by
  // kind.
  double cross = 0.0, self_source = 0.0, self_target = 0.0;
  Summary summary;  // iterations summed over the three problems
  std::optional<Gradients> gradients;
};

// MMD^2 = 1/2 <a, K_xx a> + 1/2 <b, K_yy b> - <a, K_xy b> (GeomLoss "kernel"
// losses; with a, b of equal mass it is >= 0 for the Gaussian and Laplacian
// kernels and for the energy distance).
// Cost entries a solve forms as dense matrices (n^2 + m^2 + n m, or 0 when the
// clouds of dimension d are reduced matrix-free); the server's size limits ask
// this.
int64_t DivergenceDenseEntries(int64_t n, int64_t m, int64_t d,
                               DivergenceKind kind);

absl::StatusOr<DivergenceResult> SolveDivergence(
    const MatrixView& x, const VectorView& a, const MatrixView& y,
    const VectorView& b, const CostSpec& cost, const DivergenceOptions& options,
    const SolveControl& control);

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_DIVERGENCE_H_
