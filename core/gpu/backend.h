// GPU devices and the kernels that run on them, behind one interface so that
// the server's routing, memory accounting and scheduling are the same for the
// CUDA backend and for the fake device of the tests. The CUDA backend is
// compiled when CMake finds nvcc (OTSERVE_CUDA); without it, or without a
// driver or a device, it lists no devices. Implementations are thread-safe;
// the kernels a backend makes serve one job at a time.
#ifndef OTSERVE_CORE_GPU_BACKEND_H_
#define OTSERVE_CORE_GPU_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/entropic/kernels.h"
#include "core/sliced/kernels.h"

namespace otcore::gpu {

struct GpuDevice {
  int id = 0;
  std::string name;
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;  // when listed
  int compute_major = 0, compute_minor = 0;
};

// The reduction precision (core/entropic/kernels.h).
using otcore::Precision;

class GpuBackend {
 public:
  virtual ~GpuBackend() = default;
  // "cuda", "fake", ...
  virtual std::string name() const = 0;
  // The devices now, with their free memory.
  virtual std::vector<GpuDevice> Devices() const = 0;
  // Entropic kernels on device `id` for one job: the job's cost data is copied
  // to the device at its first reduction and freed with the kernels.
  virtual absl::StatusOr<std::unique_ptr<EntropicKernels>> Kernels(
      int id, Precision precision) const = 0;
  // Sliced kernels on device `id` for one job.
  virtual absl::StatusOr<std::unique_ptr<SlicedKernels>> Sliced(
      int id) const = 0;
};

// True when this build compiled the CUDA kernels.
bool CudaCompiled();
// The CUDA backend (no devices without CUDA, a driver or a card).
const GpuBackend& CudaBackend();

// Device bytes an entropic job holds: its cost data (clouds (n + m) d, or a
// dense n x m matrix), the potentials and weights, and a dense plan when
// `plan` is set; doubles.
int64_t EntropicDeviceBytes(int64_t n, int64_t m, int64_t d, bool dense,
                            bool plan);

// Directions a sliced job projects per chunk: the chunk's projections,
// sorted copies and weights (32 (n + m) bytes a direction) within 256 MB.
int64_t SlicedChunkDirections(int64_t n, int64_t m, int64_t directions);
// Device bytes of a sliced job: both clouds and weights, one chunk's scratch
// (and CUB's sort scratch, taken as one more copy of the keys).
int64_t SlicedDeviceBytes(int64_t n, int64_t m, int64_t d, int64_t directions);

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_BACKEND_H_
