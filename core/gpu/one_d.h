// The 1-D exact transport of the sliced kernels, for the host and the device:
// the monotone coupling walked over two sorted supports with their weights,
// as SolveOneD walks it (core/exact/one_d.cc), so that the CPU tests check the
// device's arithmetic (tests/core/gpu_math_test.cc). Pure functions.
#ifndef OTSERVE_CORE_GPU_ONE_D_H_
#define OTSERVE_CORE_GPU_ONE_D_H_

#include "core/gpu/math.h"

namespace otcore::gpu {

// |v|^p with the exact cases p = 1 and p = 2.
OT_HOST_DEVICE inline double PowAbs(double v, double p) {
  v = fabs(v);
  if (p == 1.0) return v;
  if (p == 2.0) return v * v;
  return pow(v, p);
}

// sum_k t_k |xs_i(k) - ys_j(k)|^p over the monotone coupling of xs [n] with
// weights xw and ys [m] with weights yw * scale (both sorted ascending).
OT_HOST_DEVICE inline double SortedOneDCost(const double* xs, const double* xw,
                                            long n, const double* ys,
                                            const double* yw, long m,
                                            double scale, double p) {
  if (n == 0 || m == 0) return 0.0;
  long i = 0, j = 0;
  double wa = xw[0], wb = yw[0] * scale, cost = 0.0;
  // Each step moves min(remaining mass) and exhausts at least one point.
  while (i < n && j < m) {
    const double t = wa < wb ? wa : wb;
    if (t > 0.0) cost += t * PowAbs(xs[i] - ys[j], p);
    wa -= t;
    wb -= t;
    if (wa <= 0.0 && i + 1 < n) {
      wa = xw[++i];
    } else if (wb <= 0.0 && j + 1 < m) {
      wb = yw[++j] * scale;
    } else if (wa <= 0.0 || wb <= 0.0) {
      break;  // one side is exhausted
    }
  }
  return cost;
}

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_ONE_D_H_
