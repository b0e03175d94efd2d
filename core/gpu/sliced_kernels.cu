// The CUDA side of the sliced kernels: projections of both clouds on a chunk
// of directions by one kernel, CUB segmented sorts (one segment per
// direction), and the 1-D coupling of each direction walked by one thread
// with the host-tested arithmetic of one_d.h. float64 throughout.
#include <cub/device/device_segmented_sort.cuh>

#include "core/gpu/launch.h"
#include "core/gpu/one_d.h"

namespace otcore::gpu {
namespace {

constexpr int kThreads = 128;

unsigned Blocks(long threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

// out [count, n]: out[l, i] = <dirs[l], x_i>; grid (points, directions).
__global__ void Project(const double* xt, long n, int d, const double* dirs,
                        double* out) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long l = blockIdx.y;
  if (i >= n) return;
  double s = 0.0;
  for (int k = 0; k < d; ++k) s += dirs[l * d + k] * xt[k * n + i];
  out[l * n + i] = s;
}

// w [count, n] = w0 repeated; offsets[l] = l n, l <= count.
__global__ void Repeat(const double* w0, long n, long count, double* w,
                       long* offsets) {
  const long t = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n * count) w[t] = w0[t % n];
  if (t <= count) offsets[t] = t * n;
}

__global__ void OneDCosts(const double* xs, const double* xw, long n,
                          const double* ys, const double* yw, long m,
                          double scale, double p, long count, double* out) {
  const long l = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (l >= count) return;
  out[l] = SortedOneDCost(xs + l * n, xw + l * n, n, ys + l * m, yw + l * m, m,
                          scale, p);
}

cudaError_t Sort(void* temp, size_t temp_bytes, const double* keys,
                 double* keys_out, const double* values, double* values_out,
                 long size, long count, const long* offsets,
                 cudaStream_t stream) {
  size_t bytes = temp_bytes;
  return cub::DeviceSegmentedSort::SortPairs(
      temp, bytes, keys, keys_out, values, values_out, size * count, count,
      offsets, offsets + 1, stream);
}

}  // namespace

cudaError_t SlicedTempBytes(long n, long m, long count, size_t* bytes) {
  size_t bx = 0, by = 0;
  cudaError_t e = cub::DeviceSegmentedSort::SortPairs(
      nullptr, bx, static_cast<const double*>(nullptr),
      static_cast<double*>(nullptr), static_cast<const double*>(nullptr),
      static_cast<double*>(nullptr), n * count, count,
      static_cast<const long*>(nullptr), static_cast<const long*>(nullptr));
  if (e != cudaSuccess) return e;
  e = cub::DeviceSegmentedSort::SortPairs(
      nullptr, by, static_cast<const double*>(nullptr),
      static_cast<double*>(nullptr), static_cast<const double*>(nullptr),
      static_cast<double*>(nullptr), m * count, count,
      static_cast<const long*>(nullptr), static_cast<const long*>(nullptr));
  *bytes = bx > by ? bx : by;
  return e;
}

cudaError_t LaunchSlicedChunk(const SlicedChunkArgs& a, cudaStream_t stream) {
  Project<<<dim3(Blocks(a.n), static_cast<unsigned>(a.count)), kThreads, 0,
            stream>>>(a.xt, a.n, a.d, a.dirs, a.px);
  Project<<<dim3(Blocks(a.m), static_cast<unsigned>(a.count)), kThreads, 0,
            stream>>>(a.yt, a.m, a.d, a.dirs, a.py);
  Repeat<<<Blocks(a.n * a.count + 1), kThreads, 0, stream>>>(a.a, a.n, a.count,
                                                             a.wx, a.x_offsets);
  Repeat<<<Blocks(a.m * a.count + 1), kThreads, 0, stream>>>(a.b, a.m, a.count,
                                                             a.wy, a.y_offsets);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  e = Sort(a.temp, a.temp_bytes, a.px, a.pxs, a.wx, a.wxs, a.n, a.count,
           a.x_offsets, stream);
  if (e != cudaSuccess) return e;
  e = Sort(a.temp, a.temp_bytes, a.py, a.pys, a.wy, a.wys, a.m, a.count,
           a.y_offsets, stream);
  if (e != cudaSuccess) return e;
  OneDCosts<<<Blocks(a.count), kThreads, 0, stream>>>(
      a.pxs, a.wxs, a.n, a.pys, a.wys, a.m, a.scale, a.p, a.count, a.out);
  return cudaGetLastError();
}

}  // namespace otcore::gpu
