// A whole balanced log-domain Sinkhorn solve between two small point clouds,
// written once for a "block" of cooperating threads: on the GPU one CUDA block
// per problem solves a batch of problems in one launch (kernels.cu); on the
// CPU a block of one thread runs the same code, which is how the tests check
// it against SolveSinkhorn and how the fake device of the server tests runs
// it. The algorithm is SolveSinkhorn's without over-relaxation: epsilon
// scaling by halves from eps_start (stage rules of core/entropic/stages.h),
// alternating exact updates, the row marginal error after an exact column
// update as the stopping rule, then the primal quantities. Pure functions on
// caller-owned memory; a block touches only its own problem's scratch.
#ifndef OTSERVE_CORE_GPU_BLOCK_SINKHORN_H_
#define OTSERVE_CORE_GPU_BLOCK_SINKHORN_H_

#include "core/entropic/stages.h"
#include "core/gpu/math.h"

namespace otcore::gpu {

// One problem of a batch: offsets into the batch's flat arrays.
struct BlockProblem {
  long n = 0, m = 0;
  int d = 0;
  PairCost kind = PairCost::kSqEuclidean;
  double p = 2.0;
  long x = 0, y = 0;  // coords: x [d, n], y [d, m], coordinate-major
  // weights: a [n], b [m] (b at the mass of a), log a [n], log b [m]
  long a = 0, b = 0, log_a = 0, log_b = 0;
  // scratch: f [n], g [m], f_next [max(n, m)], shifted [max(n, m)]
  long f = 0, g = 0, f_next = 0, shifted = 0;
  double mass = 1.0;  // sum a
  double epsilon = 1.0, eps_start = 1.0, tolerance = 1e-6;
  long max_iterations = 1000;
};

enum BlockTermination : int {
  kBlockConverged = 0,
  kBlockIterationLimit = 1,
  kBlockNumericalError = 2,
  kBlockCancelled = 3,
};

struct BlockOutcome {
  double cost = 0.0;         // <P, C>
  double regularized = 0.0;  // <P, C> + eps KL(P | a b^T)
  double marginal_error = 0.0;
  double epsilon = 0.0;  // the stage the potentials belong to
  double error = 0.0;    // the last stopping-rule error
  long iterations = 0;
  int termination = kBlockIterationLimit;
};

// The block of the CPU: one thread.
struct SerialBlock {
  int tid() const { return 0; }
  int size() const { return 1; }
  void Sync() const {}
  double Sum(double v) const { return v; }
  bool Flag(const volatile int* flag) const { return flag && *flag != 0; }
};

// out_i = -eps lse_j(log_w_j + h_j / eps - C(x_i, y_j) / eps) for i < n, the
// other cloud y [d, m] with h, log_w [m]; `shifted` [m] is scratch. Columns
// are rows of the swapped clouds (the cost kinds are symmetric).
template <class Block>
OT_HOST_DEVICE void BlockSoftMin(const Block& blk, const double* x, long n,
                                 const double* y, long m, int d, PairCost kind,
                                 double p, const double* h, const double* log_w,
                                 double eps, double* shifted, double* out) {
  for (long j = blk.tid(); j < m; j += blk.size()) {
    shifted[j] = log_w[j] + h[j] / eps;  // as the CPU kernels form it
  }
  blk.Sync();
  const double inv_eps = 1.0 / eps;
  for (long i = blk.tid(); i < n; i += blk.size()) {
    LogSumExp acc;
    for (long j = 0; j < m; ++j) {
      const double sq = SquaredDistance(x + i, n, y + j, m, d);
      acc.Add(SoftMinTerm(shifted[j], CostOfSquared(sq, kind, p), inv_eps));
    }
    out[i] = SoftMinValue(acc, eps);
  }
  blk.Sync();
}

// Solves problem `pr`; every thread of the block calls it and gets the same
// outcome in `out` (thread 0 writes it). `cancel`, when set to non-zero by
// the host, stops the solve at the next iteration.
template <class Block>
OT_HOST_DEVICE void BlockSinkhorn(const Block& blk, const BlockProblem& pr,
                                  const double* coords, const double* weights,
                                  double* scratch, const volatile int* cancel,
                                  BlockOutcome* out) {
  const long n = pr.n, m = pr.m;
  const double* x = coords + pr.x;
  const double* y = coords + pr.y;
  const double* a = weights + pr.a;
  const double* b = weights + pr.b;
  const double* log_a = weights + pr.log_a;
  const double* log_b = weights + pr.log_b;
  double* f = scratch + pr.f;
  double* g = scratch + pr.g;
  double* t = scratch + pr.f_next;
  double* sh = scratch + pr.shifted;
  auto rows = [&](const double* h, double eps, double* dst) {
    BlockSoftMin(blk, x, n, y, m, pr.d, pr.kind, pr.p, h, log_b, eps, sh, dst);
  };
  auto cols = [&](const double* h, double eps, double* dst) {
    BlockSoftMin(blk, y, m, x, n, pr.d, pr.kind, pr.p, h, log_a, eps, sh, dst);
  };

  BlockOutcome o;
  for (long i = blk.tid(); i < n; i += blk.size()) f[i] = 0.0;
  blk.Sync();
  double eps = pr.eps_start > pr.epsilon ? pr.eps_start : pr.epsilon;
  cols(f, eps, g);
  bool done = false;
  while (!done) {
    const bool last = eps <= pr.epsilon;
    const double tol = last ? pr.tolerance : kStageTolerance;
    long stage_it = 0;
    for (;;) {
      if (blk.Flag(cancel)) {
        o.termination = kBlockCancelled;
        done = true;
        break;
      }
      rows(g, eps, t);
      // Row marginal error of the plan (f, g) (g exact for f).
      double err = 0.0, bad = 0.0;
      for (long i = blk.tid(); i < n; i += blk.size()) {
        if (a[i] > 0.0) err += fabs(a[i] * exp((f[i] - t[i]) / eps) - a[i]);
        if (!IsFinite(t[i])) bad += 1.0;
      }
      err = blk.Sum(err) / pr.mass;
      bad = blk.Sum(bad);
      o.error = err;
      ++o.iterations;
      ++stage_it;
      if (IsNan(err) || bad > 0.0) {
        o.termination = kBlockNumericalError;
        done = true;
        break;
      }
      if (err <= tol) {
        o.termination = last ? kBlockConverged : kBlockIterationLimit;
        if (last) done = true;
        break;
      }
      if (o.iterations >= pr.max_iterations) {
        o.termination = kBlockIterationLimit;
        done = true;
        break;
      }
      if (!last && stage_it >= kStageIterations) break;
      for (long i = blk.tid(); i < n; i += blk.size()) f[i] = t[i];
      blk.Sync();
      cols(f, eps, g);
    }
    if (done) break;
    if (o.iterations >= pr.max_iterations) {  // the cap struck at a stage end
      o.termination = kBlockIterationLimit;
      break;
    }
    // Next stage: keep f = the last row update, refit g at the smaller eps.
    eps = eps * kStageShrink > pr.epsilon ? eps * kStageShrink : pr.epsilon;
    for (long i = blk.tid(); i < n; i += blk.size()) f[i] = t[i];
    blk.Sync();
    cols(f, eps, g);
  }
  o.epsilon = eps;

  // Primal quantities of (f, g) at eps: rows and <P, C> in one pass, columns
  // b_j exp((g_j - T(f)_j) / eps) from one column soft-min (into t).
  double row_sum = 0.0, row_cost = 0.0, fr = 0.0, row_l1 = 0.0;
  for (long i = blk.tid(); i < n; i += blk.size()) {
    const double u = f[i] / eps + log_a[i];
    double mass = 0.0, cost = 0.0;
    if (u != -INFINITY) {
      for (long j = 0; j < m; ++j) {
        const double c = CostOfSquared(
            SquaredDistance(x + i, n, y + j, m, pr.d), pr.kind, pr.p);
        const double pij = exp(u + (g[j] / eps + log_b[j]) - c / eps);
        mass += pij;
        cost += pij * c;
      }
    }
    row_sum += mass;
    row_cost += cost;
    if (a[i] > 0.0) fr += f[i] * mass;
    row_l1 += fabs(mass - a[i]);
  }
  row_sum = blk.Sum(row_sum);
  row_cost = blk.Sum(row_cost);
  fr = blk.Sum(fr);
  row_l1 = blk.Sum(row_l1);
  cols(f, eps, t);
  double gc = 0.0, col_l1 = 0.0, b_sum = 0.0;
  for (long j = blk.tid(); j < m; j += blk.size()) {
    const double cj = b[j] > 0.0 ? b[j] * exp((g[j] - t[j]) / eps) : 0.0;
    if (b[j] > 0.0) gc += g[j] * cj;
    col_l1 += fabs(cj - b[j]);
    b_sum += b[j];
  }
  gc = blk.Sum(gc);
  col_l1 = blk.Sum(col_l1);
  b_sum = blk.Sum(b_sum);
  o.cost = row_cost;
  o.regularized = fr + gc - eps * (row_sum - pr.mass * b_sum);
  o.marginal_error = (row_l1 > col_l1 ? row_l1 : col_l1) / pr.mass;
  if (!IsFinite(o.cost) || !IsFinite(o.marginal_error)) {
    o.termination = kBlockNumericalError;
  }
  if (blk.tid() == 0) *out = o;
}

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_BLOCK_SINKHORN_H_
