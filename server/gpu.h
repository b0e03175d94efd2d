// The server's GPUs: which devices it uses (--gpus), a scheduler per device
// with its own queue and a byte budget of device memory (jobs are accounted
// before they start; one that cannot fit gets RESOURCE_EXHAUSTED naming the
// size), and the routing rule of SolverOptions.device. The backend is CUDA in
// production and a fake device in tests, so all of this is tested without a
// GPU. Thread-safe.
#ifndef OTSERVE_SERVER_GPU_H_
#define OTSERVE_SERVER_GPU_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/gpu/backend.h"
#include "ot/v1/service.pb.h"
#include "server/scheduler.h"

namespace otserve {

// What a job would run on a GPU (Job::Gpu()).
struct GpuWork {
  bool supported = false;
  std::string unsupported_reason;  // when not supported: names the method
  int64_t n = 0, m = 0, d = 0;
  bool dense = false;      // an explicit cost matrix
  bool plan = false;       // a dense plan is formed
  int64_t directions = 0;  // sliced: its directions (0: entropic)
  // Batches: the cost entries of all their problems. Batches and jobs that
  // hold several sources at once (divergences): their device bytes.
  std::optional<int64_t> batch_entries, held_bytes;
  // The size AUTO compares with its threshold: cost entries n m; sliced:
  // projected values directions x (n + m).
  int64_t Entries() const {
    if (batch_entries) return *batch_entries;
    return directions > 0 ? directions * (n + m) : n * m;
  }
  int64_t DeviceBytes() const;
};

// AUTO sends a supported job to a GPU from this many cost entries n * m on.
// At this size a CPU soft-min pass takes milliseconds (one thread, 2048 x 2048
// clouds in d = 2: 12.9 ms on the 2-core development machine), while a GPU
// pass adds a host<->device copy of n + m doubles and a launch (an estimate of
// tens of microseconds, not measured) plus the first upload. To be measured
// on a GPU (--gpu_auto_min_entries).
inline constexpr int64_t kGpuAutoMinEntries = int64_t{1} << 22;

struct GpuOptions {
  // "none", "all", or device ids "0,2".
  std::string devices = "none";
  // Jobs that run at once on one device (each on its own stream).
  int streams_per_device = 2;
  // Jobs that may wait per device.
  int max_queue_per_device = 8;
  // Fraction of a device's free memory (when the server starts) that jobs are
  // admitted into.
  double memory_fraction = 0.8;
  int64_t auto_min_entries = kGpuAutoMinEntries;
};

class GpuPool {
 public:
  // The devices of `backend` that `options.devices` names (an unknown id is
  // INVALID_ARGUMENT; "all" on a machine without GPUs gives an empty pool).
  static absl::StatusOr<std::unique_ptr<GpuPool>> Create(
      const otcore::gpu::GpuBackend& backend, const GpuOptions& options);

  bool empty() const { return devices_.empty(); }
  int size() const { return static_cast<int>(devices_.size()); }
  const otcore::gpu::GpuBackend& backend() const { return backend_; }

  struct Route {
    bool gpu = false;
    int slot = 0;  // index into the pool's devices
  };
  // Where a job goes: the caller's preference and the job's GPU work.
  // FAILED_PRECONDITION for DEVICE_GPU without a GPU or on a method without a
  // GPU implementation. A GPU job goes to the device with the most free
  // budget.
  absl::StatusOr<Route> Choose(ot::v1::Device preference,
                               const GpuWork& work) const;

  Scheduler& scheduler(int slot) { return *devices_[slot].scheduler; }
  int device_id(int slot) const { return devices_[slot].info.id; }
  // "cuda:0", "fake:1": Diagnostics.device.
  std::string DeviceName(int slot) const;
  // RESOURCE_EXHAUSTED naming the job's device bytes and the budget.
  absl::Status TooLargeStatus(int slot, int64_t bytes) const;

  void FillInfo(ot::v1::GetServerInfoResponse* response) const;
  void StopAdmitting();
  bool WaitIdle(absl::Time deadline);

 private:
  struct Device {
    otcore::gpu::GpuDevice info;
    int64_t budget = 0;
    std::unique_ptr<Scheduler> scheduler;
  };
  GpuPool(const otcore::gpu::GpuBackend& backend, int64_t auto_min_entries)
      : backend_(backend), auto_min_entries_(auto_min_entries) {}

  const otcore::gpu::GpuBackend& backend_;
  const int64_t auto_min_entries_;
  std::vector<Device> devices_;
};

// A stand-in GPU for tests: lists `devices` with the given memory and runs the
// CPU kernels under the name "fake", counting the reductions it serves.
class FakeGpuBackend final : public otcore::gpu::GpuBackend {
 public:
  FakeGpuBackend(int devices, int64_t memory_bytes)
      : devices_(devices), memory_(memory_bytes) {}
  std::string name() const override { return "fake"; }
  std::vector<otcore::gpu::GpuDevice> Devices() const override;
  // The CPU's float64 kernels whatever the precision asked for.
  absl::StatusOr<std::unique_ptr<otcore::EntropicKernels>> Kernels(
      int id, otcore::gpu::Precision precision) const override;
  // The CPU's sliced kernels, counted as one reduction per call.
  absl::StatusOr<std::unique_ptr<otcore::SlicedKernels>> Sliced(
      int id) const override;
  int64_t reductions() const { return reductions_->load(); }

 private:
  const int devices_;
  const int64_t memory_;
  std::shared_ptr<std::atomic<int64_t>> reductions_ =
      std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_GPU_H_
