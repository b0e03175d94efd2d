// The CUDA kernels of the entropic reductions. Point clouds are reduced
// matrix-free: one thread per output row, tiles of the other cloud and its
// scaled potential staged in shared memory, the cost fused with a streaming
// (max, sum) log-sum-exp (n x m is never stored). Explicit costs: one warp per
// row, or one thread per column (coalesced reads). float64 throughout. The
// per-element math is core/gpu/math.h, tested on the CPU.
#include <algorithm>

#include "core/gpu/block_sinkhorn.h"
#include "core/gpu/launch.h"
#include "core/gpu/math.h"

namespace otcore::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kSharedBytes = 48 * 1024;

// Columns of the other cloud staged per tile: kThreads, fewer when d is large.
int TileColumns(int d) {
  return std::max(1, std::min(kThreads, kSharedBytes / (8 * (d + 1))));
}

unsigned Blocks(long threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

// The rows of block blockIdx.x: one thread per row, tiles of the other
// cloud and its scaled potential staged in shared memory. T: the
// coordinates' type; Lse: the log-sum-exp (float64, or float32 exponentials).
template <typename T, typename Lse>
__device__ void RowBlock(const T* x, long n, const T* y, long m, int d,
                         PairCost kind, double p, const double* shifted,
                         double eps, int tile, double* out) {
  extern __shared__ double smem[];  // tile * d coordinates, then tile terms
  T* ys = reinterpret_cast<T*>(smem);
  double* ws = smem + static_cast<long>(tile) * d;
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const double inv_eps = 1.0 / eps;
  Lse acc;
  for (long j0 = 0; j0 < m; j0 += tile) {
    const int count = static_cast<int>(min(static_cast<long>(tile), m - j0));
    for (int t = threadIdx.x; t < count * d; t += blockDim.x) {
      const int k = t / count, jj = t % count;
      ys[k * tile + jj] = y[k * m + j0 + jj];
    }
    for (int t = threadIdx.x; t < count; t += blockDim.x) {
      ws[t] = shifted[j0 + t];
    }
    __syncthreads();
    if (i < n) {
      for (int jj = 0; jj < count; ++jj) {
        const double sq = SquaredDistance(x + i, n, ys + jj, tile, d);
        acc.Add(SoftMinTerm(ws[jj], CostOfSquared(sq, kind, p), inv_eps));
      }
    }
    __syncthreads();
  }
  if (i < n) out[i] = SoftMinValue(acc, eps);
}

__device__ void CloudRowSoftMinBlock(const CloudArgs& a, const double* shifted,
                                     double eps, int tile, double* out) {
  if (a.xf != nullptr) {
    RowBlock<float, LogSumExpF32>(a.xf, a.n, a.yf, a.m, a.d, a.kind, a.p,
                                  shifted, eps, tile, out);
  } else {
    RowBlock<double, LogSumExp>(a.x, a.n, a.y, a.m, a.d, a.kind, a.p, shifted,
                                eps, tile, out);
  }
}

__global__ void CloudRowSoftMin(CloudArgs a, const double* shifted, double eps,
                                int tile, double* out) {
  CloudRowSoftMinBlock(a, shifted, eps, tile, out);
}

// Task blockIdx.y; blocks past its rows leave together.
__global__ void CloudRowSoftMins(const SoftMinTaskArgs* tasks, double eps,
                                 int tile) {
  const SoftMinTaskArgs& t = tasks[blockIdx.y];
  if (static_cast<long>(blockIdx.x) * blockDim.x >= t.a.n) return;
  CloudRowSoftMinBlock(t.a, t.shifted, eps, tile, t.out);
}

__global__ void DenseRowSoftMin(const double* c, long n, long m,
                                const double* shifted, double eps,
                                double* out) {
  const long row =
      (static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;  // whole warps leave together (blockDim % 32 == 0)
  const double inv_eps = 1.0 / eps;
  LogSumExp acc;
  for (long j = lane; j < m; j += 32) {
    acc.Add(SoftMinTerm(shifted[j], c[row * m + j], inv_eps));
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    LogSumExp other;
    other.max = __shfl_down_sync(0xffffffffu, acc.max, offset);
    other.sum = __shfl_down_sync(0xffffffffu, acc.sum, offset);
    acc.Merge(other);
  }
  if (lane == 0) out[row] = SoftMinValue(acc, eps);
}

__global__ void DenseColSoftMin(const double* c, long n, long m,
                                const double* shifted, double eps,
                                double* out) {
  const long j = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const double inv_eps = 1.0 / eps;
  LogSumExp acc;
  for (long i = 0; i < n; ++i) {
    acc.Add(SoftMinTerm(shifted[i], c[i * m + j], inv_eps));
  }
  out[j] = SoftMinValue(acc, eps);
}

__global__ void CloudPrimal(CloudArgs a, const double* u, const double* v,
                            double eps, double* rows, double* row_cost,
                            double* plan) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  double mass = 0.0, cost_sum = 0.0;
  for (long j = 0; j < a.m; ++j) {
    double pij = 0.0, cost = 0.0;
    if (u[i] != -INFINITY) {
      cost = CostOfSquared(SquaredDistance(a.x + i, a.n, a.y + j, a.m, a.d),
                           a.kind, a.p);
      pij = exp(u[i] + v[j] - cost / eps);
    }
    mass += pij;
    cost_sum += pij * cost;
    if (plan) plan[i * a.m + j] = pij;
  }
  rows[i] = mass;
  row_cost[i] = cost_sum;
}

__global__ void DensePrimal(const double* c, long n, long m, const double* u,
                            const double* v, double eps, double* rows,
                            double* row_cost, double* plan) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double mass = 0.0, cost_sum = 0.0;
  for (long j = 0; j < m; ++j) {
    const double pij =
        u[i] == -INFINITY ? 0.0 : exp(u[i] + v[j] - c[i * m + j] / eps);
    mass += pij;
    cost_sum += pij * c[i * m + j];
    if (plan) plan[i * m + j] = pij;
  }
  rows[i] = mass;
  row_cost[i] = cost_sum;
}

// The block of a CUDA kernel: its threads, __syncthreads, and block-wide
// sums through a shared array of blockDim doubles.
struct CudaBlock {
  double* shared;  // blockDim.x doubles
  __device__ int tid() const { return threadIdx.x; }
  __device__ int size() const { return blockDim.x; }
  __device__ void Sync() const { __syncthreads(); }
  __device__ double Sum(double v) const {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
      __syncthreads();
    }
    const double total = shared[0];
    __syncthreads();
    return total;
  }
  // Thread 0 reads the host's flag; every thread gets its value.
  __device__ bool Flag(const volatile int* flag) const {
    if (flag == nullptr) return false;
    __shared__ int seen;
    if (threadIdx.x == 0) seen = *flag;
    __syncthreads();
    const bool set = seen != 0;
    __syncthreads();
    return set;
  }
};

__global__ void BlockSinkhornKernel(const BlockProblem* problems,
                                    const double* coords, const double* weights,
                                    double* scratch, const volatile int* cancel,
                                    BlockOutcome* outcomes) {
  __shared__ double sums[kThreads];
  const CudaBlock block{sums};
  BlockSinkhorn(block, problems[blockIdx.x], coords, weights, scratch, cancel,
                &outcomes[blockIdx.x]);
}

}  // namespace

cudaError_t LaunchBlockSinkhorn(const BlockProblem* problems, long count,
                                const double* coords, const double* weights,
                                double* scratch, const volatile int* cancel,
                                BlockOutcome* outcomes, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  BlockSinkhornKernel<<<static_cast<unsigned>(count), kThreads, 0, stream>>>(
      problems, coords, weights, scratch, cancel, outcomes);
  return cudaGetLastError();
}

cudaError_t LaunchCloudRowSoftMin(const CloudArgs& a, const double* shifted,
                                  double eps, double* out,
                                  cudaStream_t stream) {
  const int tile = TileColumns(a.d);
  const size_t shared = static_cast<size_t>(tile) * (a.d + 1) * sizeof(double);
  CloudRowSoftMin<<<Blocks(a.n), kThreads, shared, stream>>>(a, shifted, eps,
                                                             tile, out);
  return cudaGetLastError();
}

cudaError_t LaunchCloudRowSoftMins(const SoftMinTaskArgs* tasks, int count,
                                   long max_rows, int d, double eps,
                                   cudaStream_t stream) {
  if (count <= 0 || max_rows <= 0) return cudaSuccess;
  const int tile = TileColumns(d);
  const size_t shared = static_cast<size_t>(tile) * (d + 1) * sizeof(double);
  CloudRowSoftMins<<<dim3(Blocks(max_rows), static_cast<unsigned>(count)),
                     kThreads, shared, stream>>>(tasks, eps, tile);
  return cudaGetLastError();
}

cudaError_t LaunchDenseRowSoftMin(const double* c, long n, long m,
                                  const double* shifted, double eps,
                                  double* out, cudaStream_t stream) {
  DenseRowSoftMin<<<Blocks(n * 32), kThreads, 0, stream>>>(c, n, m, shifted,
                                                           eps, out);
  return cudaGetLastError();
}

cudaError_t LaunchDenseColSoftMin(const double* c, long n, long m,
                                  const double* shifted, double eps,
                                  double* out, cudaStream_t stream) {
  DenseColSoftMin<<<Blocks(m), kThreads, 0, stream>>>(c, n, m, shifted, eps,
                                                      out);
  return cudaGetLastError();
}

cudaError_t LaunchCloudPrimal(const CloudArgs& a, const double* u,
                              const double* v, double eps, double* rows,
                              double* row_cost, double* plan,
                              cudaStream_t stream) {
  CloudPrimal<<<Blocks(a.n), kThreads, 0, stream>>>(a, u, v, eps, rows,
                                                    row_cost, plan);
  return cudaGetLastError();
}

cudaError_t LaunchDensePrimal(const double* c, long n, long m, const double* u,
                              const double* v, double eps, double* rows,
                              double* row_cost, double* plan,
                              cudaStream_t stream) {
  DensePrimal<<<Blocks(n), kThreads, 0, stream>>>(c, n, m, u, v, eps, rows,
                                                  row_cost, plan);
  return cudaGetLastError();
}

}  // namespace otcore::gpu
