// Per-element math of the CUDA kernels, compiled for the host too so that the
// CPU tests check it against the CPU core (tests/core/gpu_math_test.cc): the
// cost of a pair of points, and the streaming (max, sum) log-sum-exp that the
// soft-min reductions fold one term at a time. Pure functions; thread-safe.
#ifndef OTSERVE_CORE_GPU_MATH_H_
#define OTSERVE_CORE_GPU_MATH_H_

#include <cmath>

#if defined(__CUDACC__)
#define OT_HOST_DEVICE __host__ __device__
#else
#define OT_HOST_DEVICE
#endif

namespace otcore::gpu {

// Finiteness tests that read the same on host and device (no <cmath>
// macros): inf - inf and NaN - NaN are NaN.
OT_HOST_DEVICE inline bool IsFinite(double v) { return v - v == 0.0; }
OT_HOST_DEVICE inline bool IsNan(double v) { return v != v; }

// Cost kinds as the kernels see them (CostKind without kExplicit).
enum class PairCost : int { kSqEuclidean = 0, kEuclidean = 1, kPower = 2 };

// ||x - y||^2 over d coordinates, x and y strided (stride between
// coordinates: the clouds are stored coordinate-major, [d, n]); in the
// coordinates' precision (float32 kernels: float arithmetic).
template <typename T>
OT_HOST_DEVICE inline T SquaredDistance(const T* x, long x_stride, const T* y,
                                        long y_stride, int d) {
  T sum = 0;
  for (int k = 0; k < d; ++k) {
    const T diff = x[k * x_stride] - y[k * y_stride];
    sum += diff * diff;
  }
  return sum;
}

// The cost of a squared distance: sq, sqrt(sq), or sq^(p/2).
OT_HOST_DEVICE inline double CostOfSquared(double sq, PairCost kind, double p) {
  switch (kind) {
    case PairCost::kSqEuclidean:
      return sq;
    case PairCost::kEuclidean:
      return sqrt(sq);
    default:
      return p == 2.0 ? sq : pow(sq, 0.5 * p);
  }
}

// A running log-sum-exp: log sum_k exp(v_k) = max + log(sum), with sum
// rescaled whenever the max grows (KeOps's online reduction). Empty: max =
// -inf, sum = 0.
struct LogSumExp {
  double max = -INFINITY;
  double sum = 0.0;

  OT_HOST_DEVICE void Add(double v) {
    if (v == -INFINITY) return;
    if (v <= max) {
      sum += exp(v - max);
    } else {
      sum = sum * exp(max - v) + 1.0;
      max = v;
    }
  }
  // Merges another partial reduction (tiles or threads).
  OT_HOST_DEVICE void Merge(const LogSumExp& o) {
    if (o.max == -INFINITY) return;
    if (o.max <= max) {
      sum += o.sum * exp(o.max - max);
    } else {
      sum = sum * exp(max - o.max) + o.sum;
      max = o.max;
    }
  }
  OT_HOST_DEVICE double Value() const {
    return max == -INFINITY ? -INFINITY : max + log(sum);
  }
};

// The log-sum-exp of the float32 kernels: the exponentials exp(v - max) of
// arguments <= 0 in float32 (relative error ~1e-7, the expensive part), the
// running max, the rescaling and the sum in float64.
struct LogSumExpF32 {
  double max = -INFINITY;
  double sum = 0.0;

  OT_HOST_DEVICE void Add(double v) {
    if (v == -INFINITY) return;
    if (v <= max) {
      sum += static_cast<double>(expf(static_cast<float>(v - max)));
    } else {
      sum = sum * exp(max - v) + 1.0;
      max = v;
    }
  }
  OT_HOST_DEVICE double Value() const {
    return max == -INFINITY ? -INFINITY : max + log(sum);
  }
};

// The soft-min term of column j for row i: shifted_j - C_ij / eps, with
// shifted_j = log_w_j + h_j / eps formed once per reduction (as the CPU
// kernels do, so both round alike).
OT_HOST_DEVICE inline double SoftMinTerm(double shifted, double cost,
                                         double inv_eps) {
  return shifted - cost * inv_eps;
}

// -eps * lse: the soft-min value (+inf when every term is -inf).
template <typename Lse>
OT_HOST_DEVICE inline double SoftMinValue(const Lse& lse, double eps) {
  return -eps * lse.Value();
}

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_MATH_H_
