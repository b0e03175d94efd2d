// Launchers of the CUDA kernels (core/gpu/kernels.cu) on raw device pointers,
// so that the C++ side (cuda_backend.cc) needs no CUDA compiler. Each call
// enqueues one kernel on `stream` and returns the launch error. Coordinates
// are coordinate-major: x [d, n], y [d, m]; dense costs row-major [n, m].
#ifndef OTSERVE_CORE_GPU_LAUNCH_H_
#define OTSERVE_CORE_GPU_LAUNCH_H_

#include <cuda_runtime_api.h>

#include "core/gpu/block_sinkhorn.h"
#include "core/gpu/math.h"

namespace otcore::gpu {

struct CloudArgs {
  const double* x;
  long n;
  const double* y;
  long m;
  int d;
  PairCost kind;
  double p;
  // float32 copies of x and y: when set, the soft-mins run in float32
  // (distances and exponentials; LogSumExpF32) from these.
  const float* xf = nullptr;
  const float* yf = nullptr;
};

// The clouds swapped: columns of C(x, y) are rows of C(y, x).
inline CloudArgs Swapped(const CloudArgs& a) {
  return CloudArgs{a.y, a.m, a.x, a.n, a.d, a.kind, a.p, a.yf, a.xf};
}

// out_i = -eps lse_j(shifted_j - c(x_i, y_j) / eps), i < n.
cudaError_t LaunchCloudRowSoftMin(const CloudArgs& a, const double* shifted,
                                  double eps, double* out, cudaStream_t stream);
// Several cloud row soft-mins in one launch (the same d and eps): task k
// reduces the rows of its clouds into its out.
struct SoftMinTaskArgs {
  CloudArgs a;
  const double* shifted;
  double* out;
};
cudaError_t LaunchCloudRowSoftMins(const SoftMinTaskArgs* tasks, int count,
                                   long max_rows, int d, double eps,
                                   cudaStream_t stream);

// out_i over the rows of c (one warp per row).
cudaError_t LaunchDenseRowSoftMin(const double* c, long n, long m,
                                  const double* shifted, double eps,
                                  double* out, cudaStream_t stream);
// out_j over the columns of c (one thread per column).
cudaError_t LaunchDenseColSoftMin(const double* c, long n, long m,
                                  const double* shifted, double eps,
                                  double* out, cudaStream_t stream);
// Row sums and row costs of P_ij = exp(u_i + v_j - C_ij / eps), and P when
// plan is not null.
cudaError_t LaunchCloudPrimal(const CloudArgs& a, const double* u,
                              const double* v, double eps, double* rows,
                              double* row_cost, double* plan,
                              cudaStream_t stream);
cudaError_t LaunchDensePrimal(const double* c, long n, long m, const double* u,
                              const double* v, double eps, double* rows,
                              double* row_cost, double* plan,
                              cudaStream_t stream);

// One block per problem: problems[k] solved whole by BlockSinkhorn
// (block_sinkhorn.h) into outcomes[k]; `cancel` is host-mapped memory the
// host sets to stop every block at its next iteration.
cudaError_t LaunchBlockSinkhorn(const BlockProblem* problems, long count,
                                const double* coords, const double* weights,
                                double* scratch, const volatile int* cancel,
                                BlockOutcome* outcomes, cudaStream_t stream);

// One chunk of sliced directions: projections [count, n] and [count, m] by
// one kernel (a matrix product, coordinate-major clouds), weights repeated
// per direction, both segmented-sorted by CUB (keys: projections, values:
// weights), then one thread per direction walks the monotone coupling
// (one_d.h) into out [count]. Scratch as named; `temp` of SlicedTempBytes.
struct SlicedChunkArgs {
  const double* xt;  // [d, n]
  long n;
  const double* yt;  // [d, m]
  long m;
  int d;
  const double* a;  // [n]
  const double* b;  // [m]
  double scale;     // b's weights are multiplied by it (mass of a)
  double p;
  const double* dirs;  // [count, d], unit rows
  long count;
  double *px, *py, *pxs, *pys;  // [count, n], [count, m], sorted copies
  double *wx, *wy, *wxs, *wys;  // the weights, likewise
  long *x_offsets, *y_offsets;  // [count + 1]
  void* temp;
  size_t temp_bytes;
  double* out;  // [count]
};
// CUB's scratch for sorting count segments of n and of m keys.
cudaError_t SlicedTempBytes(long n, long m, long count, size_t* bytes);
cudaError_t LaunchSlicedChunk(const SlicedChunkArgs& args, cudaStream_t stream);

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_LAUNCH_H_
