// Backend-independent parts: the device footprint, and the stub CUDA backend
// of builds without CUDA.
#include "core/gpu/backend.h"

#include <algorithm>

namespace otcore::gpu {

int64_t EntropicDeviceBytes(int64_t n, int64_t m, int64_t d, bool dense,
                            bool plan) {
  const int64_t cost = dense ? n * m : (n + m) * d;
  const int64_t vectors = 4 * (n + m);  // h, log_w, out, row sums / costs
  return 8 * (cost + vectors + (plan ? n * m : 0));
}

int64_t SlicedChunkDirections(int64_t n, int64_t m, int64_t directions) {
  constexpr int64_t kChunkBytes = int64_t{256} << 20;
  const int64_t per_direction = 32 * (n + m);
  return std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(per_direction, 1),
                             1, std::min<int64_t>(directions, 65535));
}

int64_t SlicedDeviceBytes(int64_t n, int64_t m, int64_t d, int64_t directions) {
  const int64_t chunk = SlicedChunkDirections(n, m, directions);
  return 8 * ((n + m) * (d + 1) + chunk * d + chunk) +
         (32 + 8) * (n + m) * chunk + 16 * (chunk + 1);
}

#ifndef OTSERVE_HAVE_CUDA
namespace {
class NoCuda final : public GpuBackend {
 public:
  std::string name() const override { return "cuda"; }
  std::vector<GpuDevice> Devices() const override { return {}; }
  absl::StatusOr<std::unique_ptr<EntropicKernels>> Kernels(
      int, Precision) const override {
    return absl::FailedPreconditionError(
        "this otserve was built without CUDA (OTSERVE_CUDA=OFF or no nvcc)");
  }
  absl::StatusOr<std::unique_ptr<SlicedKernels>> Sliced(int id) const override {
    return Kernels(id, Precision::kFloat64).status();
  }
};
}  // namespace

bool CudaCompiled() { return false; }
const GpuBackend& CudaBackend() {
  static const NoCuda backend;
  return backend;
}
#endif

}  // namespace otcore::gpu
