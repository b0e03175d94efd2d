// GPU device selection, routing and accounting; the fake backend.
#include "server/gpu.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/gpu/batch.h"
#include "server/errors.h"

namespace otserve {

int64_t GpuWork::DeviceBytes() const {
  if (held_bytes) return *held_bytes;
  if (directions > 0) {
    return otcore::gpu::SlicedDeviceBytes(n, m, d, directions);
  }
  return otcore::gpu::EntropicDeviceBytes(n, m, d, dense, plan);
}

absl::StatusOr<std::unique_ptr<GpuPool>> GpuPool::Create(
    const otcore::gpu::GpuBackend& backend, const GpuOptions& options) {
  std::unique_ptr<GpuPool> pool(new GpuPool(backend, options.auto_min_entries));
  if (options.devices == "none" || options.devices.empty()) return pool;
  const std::vector<otcore::gpu::GpuDevice> all = backend.Devices();
  std::vector<otcore::gpu::GpuDevice> chosen;
  if (options.devices == "all") {
    chosen = all;
  } else {
    for (absl::string_view part : absl::StrSplit(options.devices, ',')) {
      int id = -1;
      auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) {
        return absl::SimpleAtoi(part, &id) && d.id == id;
      });
      if (it == all.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--gpus: no ", backend.name(), " device \"", part,
                         "\" (found ", all.size(), " device(s))"));
      }
      chosen.push_back(*it);
    }
  }
  for (const auto& info : chosen) {
    Device d;
    d.info = info;
    d.budget = std::max<int64_t>(
        1, static_cast<int64_t>(options.memory_fraction *
                                static_cast<double>(info.free_bytes)));
    d.scheduler = std::make_unique<Scheduler>(
        options.streams_per_device, options.max_queue_per_device, d.budget);
    pool->devices_.push_back(std::move(d));
  }
  return pool;
}

absl::StatusOr<GpuPool::Route> GpuPool::Choose(ot::v1::Device preference,
                                               const GpuWork& work) const {
  if (preference == ot::v1::DEVICE_CPU) return Route{};
  if (preference == ot::v1::DEVICE_GPU) {
    if (devices_.empty()) {
      return absl::FailedPreconditionError(
          "options.device: DEVICE_GPU, but this server has no GPU (start it "
          "with --gpus on a machine with one)");
    }
    if (!work.supported) {
      return absl::FailedPreconditionError(absl::StrCat(
          "options.device: DEVICE_GPU, but ", work.unsupported_reason));
    }
  } else if (devices_.empty() || !work.supported ||
             work.Entries() < auto_min_entries_) {
    return Route{};  // AUTO: the CPU
  }
  int best = 0;
  int64_t best_free = -1;
  for (size_t k = 0; k < devices_.size(); ++k) {
    const int64_t free =
        devices_[k].budget - devices_[k].scheduler->bytes_in_flight();
    if (free > best_free) {
      best_free = free;
      best = static_cast<int>(k);
    }
  }
  return Route{true, best};
}

std::string GpuPool::DeviceName(int slot) const {
  return absl::StrCat(backend_.name(), ":", devices_[slot].info.id);
}

absl::Status GpuPool::TooLargeStatus(int slot, int64_t bytes) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the job needs ", bytes >> 20, " MiB of GPU memory (", bytes, " bytes); ",
      DeviceName(slot), " admits jobs into ", devices_[slot].budget >> 20,
      " MiB: send a smaller problem or options.device = DEVICE_CPU"));
}

void GpuPool::FillInfo(ot::v1::GetServerInfoResponse* response) const {
  const std::vector<otcore::gpu::GpuDevice> now = backend_.Devices();
  for (const Device& d : devices_) {
    ot::v1::GpuInfo* g = response->add_gpus();
    g->set_id(d.info.id);
    g->set_name(d.info.name);
    g->set_backend(backend_.name());
    g->set_total_bytes(d.info.total_bytes);
    g->set_free_bytes(d.info.free_bytes);
    for (const auto& n : now) {
      if (n.id == d.info.id) g->set_free_bytes(n.free_bytes);
    }
    g->set_budget_bytes(d.budget);
    g->set_jobs_in_flight(d.scheduler->in_flight());
  }
}

void GpuPool::StopAdmitting() {
  for (Device& d : devices_) d.scheduler->StopAdmitting();
}

bool GpuPool::WaitIdle(absl::Time deadline) {
  bool idle = true;
  for (Device& d : devices_) idle = d.scheduler->WaitIdle(deadline) && idle;
  return idle;
}

namespace {
// The CPU kernels under another name, counting reductions.
class FakeKernels final : public otcore::EntropicKernels {
 public:
  explicit FakeKernels(std::shared_ptr<std::atomic<int64_t>> count)
      : count_(std::move(count)) {}
  absl::string_view name() const override { return "fake"; }
  void RowSoftMin(const otcore::CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const otcore::SolveControl& control) const override {
    ++*count_;
    otcore::CpuEntropicKernels().RowSoftMin(c, h, log_w, eps, out, control);
  }
  void ColSoftMin(const otcore::CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const otcore::SolveControl& control) const override {
    ++*count_;
    otcore::CpuEntropicKernels().ColSoftMin(c, h, log_w, eps, out, control);
  }
  void PrimalPass(const otcore::CostSource& c, const Eigen::ArrayXd& u,
                  const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* rows,
                  Eigen::ArrayXd* row_cost, otcore::RowMatrix* plan,
                  const otcore::SolveControl& control) const override {
    ++*count_;
    otcore::CpuEntropicKernels().PrimalPass(c, u, v, eps, rows, row_cost, plan,
                                            control);
  }
  // Fused sets: one count per call, as one launch.
  bool FusesSoftMins() const override { return true; }
  void RowSoftMins(absl::Span<const otcore::SoftMinTask> tasks, double eps,
                   const otcore::SolveControl& control) const override {
    ++*count_;
    for (const auto& t : tasks) {
      otcore::CpuEntropicKernels().RowSoftMin(*t.source, *t.h, *t.log_w, eps,
                                              t.out, control);
    }
  }
  // Batches run the device's block algorithm on the host (one count each).
  bool TakesInBatch(int64_t n, int64_t m, int64_t d) const override {
    return otcore::gpu::BlockTakes(n, m, d);
  }
  absl::Status SolveBatch(absl::Span<const otcore::SinkhornBatchItem> items,
                          std::vector<otcore::SinkhornBatchOutcome>* outcomes,
                          const otcore::SolveControl& control) const override {
    ++*count_;
    return otcore::gpu::SolveBatchOnHost(items, outcomes, control);
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> count_;
};

class FakeSliced final : public otcore::SlicedKernels {
 public:
  explicit FakeSliced(std::shared_ptr<std::atomic<int64_t>> count)
      : count_(std::move(count)) {}
  absl::string_view name() const override { return "fake"; }
  absl::Status ProjectedCosts(
      const otcore::MatrixView& x, const otcore::VectorView& a,
      const otcore::MatrixView& y, const otcore::VectorView& b,
      const otcore::RowMatrix& directions, double p,
      Eigen::VectorXd* per_direction,
      const otcore::SolveControl& control) const override {
    ++*count_;
    return otcore::CpuSlicedKernels().ProjectedCosts(x, a, y, b, directions, p,
                                                     per_direction, control);
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> count_;
};
}  // namespace

std::vector<otcore::gpu::GpuDevice> FakeGpuBackend::Devices() const {
  std::vector<otcore::gpu::GpuDevice> out;
  for (int id = 0; id < devices_; ++id) {
    out.push_back({id, "Fake GPU", memory_, memory_, 9, 0});
  }
  return out;
}

absl::StatusOr<std::unique_ptr<otcore::SlicedKernels>> FakeGpuBackend::Sliced(
    int id) const {
  if (id < 0 || id >= devices_) return absl::NotFoundError("no such device");
  return std::unique_ptr<otcore::SlicedKernels>(
      std::make_unique<FakeSliced>(reductions_));
}

absl::StatusOr<std::unique_ptr<otcore::EntropicKernels>>
FakeGpuBackend::Kernels(int id, otcore::gpu::Precision) const {
  if (id < 0 || id >= devices_) return absl::NotFoundError("no such device");
  return std::unique_ptr<otcore::EntropicKernels>(
      std::make_unique<FakeKernels>(reductions_));
}

}  // namespace otserve
