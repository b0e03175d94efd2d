// Backend-independent parts: the device footprint, and the stub CUDA backend
// of builds without CUDA.
#include "core/gpu/backend.h"

namespace otcore::gpu {

int64_t EntropicDeviceBytes(int64_t n, int64_t m, int64_t d, bool dense,
                            bool plan) {
  const int64_t cost = dense ? n * m : (n + m) * d;
  const int64_t vectors = 4 * (n + m);  // h, log_w, out, row sums / costs
  return 8 * (cost + vectors + (plan ? n * m : 0));
}

#ifndef OTSERVE_HAVE_CUDA
namespace {
class NoCuda final : public GpuBackend {
 public:
  std::string name() const override { return "cuda"; }
  std::vector<GpuDevice> Devices() const override { return {}; }
  absl::StatusOr<std::unique_ptr<EntropicKernels>> Kernels(int) const override {
    return absl::FailedPreconditionError(
        "this otserve was built without CUDA (OTSERVE_CUDA=OFF or no nvcc)");
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
