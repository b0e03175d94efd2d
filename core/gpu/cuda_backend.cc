// The CUDA backend (compiled with OTSERVE_HAVE_CUDA): device discovery and
// EntropicKernels on one device. The job's cost data is uploaded at its first
// reduction and reused; each reduction uploads the scaled potential, launches
// one kernel (core/gpu/kernels.cu) on the job's stream and downloads the
// result. A device error falls back to the CPU kernels for that reduction, so
// a result is never wrong for want of a GPU. Not yet run on a GPU: see README.
#include <cuda_runtime_api.h>

#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/gpu/backend.h"
#include "core/gpu/batch.h"
#include "core/gpu/launch.h"

namespace otcore::gpu {
namespace {

absl::Status Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return absl::OkStatus();
  cudaGetLastError();  // clear a sticky error for the next call
  return absl::InternalError(
      absl::StrCat("CUDA ", what, ": ", cudaGetErrorString(e)));
}

#define OT_RETURN_IF_ERROR(expr)       \
  do {                                 \
    const absl::Status ot_s_ = (expr); \
    if (!ot_s_.ok()) return ot_s_;     \
  } while (false)

// A device array that only grows.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (data_) cudaFree(data_);
  }
  absl::Status Reserve(size_t count) {
    if (count <= size_ && data_) return absl::OkStatus();
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
    void* p = nullptr;
    OT_RETURN_IF_ERROR(Check(
        cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc"));
    data_ = static_cast<T*>(p);
    size_ = count;
    return absl::OkStatus();
  }
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};
using Buffer = DeviceArray<double>;
using FloatBuffer = DeviceArray<float>;

// An int in pinned host memory that kernels read through its device alias.
class CancelFlag {
 public:
  CancelFlag() = default;
  CancelFlag(const CancelFlag&) = delete;
  CancelFlag& operator=(const CancelFlag&) = delete;
  ~CancelFlag() {
    if (host_) cudaFreeHost(const_cast<int*>(host_));
  }
  absl::Status Init() {
    void* p = nullptr;
    OT_RETURN_IF_ERROR(Check(
        cudaHostAlloc(&p, sizeof(int), cudaHostAllocMapped), "cudaHostAlloc"));
    host_ = static_cast<volatile int*>(p);
    *host_ = 0;
    void* d = nullptr;
    OT_RETURN_IF_ERROR(Check(cudaHostGetDevicePointer(&d, p, 0), "mapped"));
    device_ = static_cast<const volatile int*>(d);
    return absl::OkStatus();
  }
  void Set() { *host_ = 1; }
  const volatile int* device() const { return device_; }

 private:
  volatile int* host_ = nullptr;
  const volatile int* device_ = nullptr;
};

class CudaKernels final : public EntropicKernels {
 public:
  CudaKernels(int device, Precision precision)
      : device_(device), float32_(precision == Precision::kFloat32) {}
  ~CudaKernels() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  absl::Status Init() {
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    return Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                 "cudaStreamCreate");
  }
  absl::string_view name() const override { return "cuda"; }
  absl::string_view precision() const override {
    return used_float32_ ? "float32" : "float64";
  }

  void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    if (!Reduce(c, h, log_w, eps, out, /*along_rows=*/!c.transposed()).ok()) {
      CpuEntropicKernels().RowSoftMin(c, h, log_w, eps, out, control);
    }
  }
  void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                  const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                  const SolveControl& control) const override {
    if (!Reduce(c, h, log_w, eps, out, /*along_rows=*/c.transposed()).ok()) {
      CpuEntropicKernels().ColSoftMin(c, h, log_w, eps, out, control);
    }
  }
  void PrimalPass(const CostSource& c, const Eigen::ArrayXd& u,
                  const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* rows,
                  Eigen::ArrayXd* row_cost, RowMatrix* plan,
                  const SolveControl& control) const override {
    // Transposed sources (not used by the solvers' primal passes) and device
    // errors take the CPU path.
    if (c.transposed() || !Primal(c, u, v, eps, rows, row_cost, plan).ok()) {
      CpuEntropicKernels().PrimalPass(c, u, v, eps, rows, row_cost, plan,
                                      control);
    }
  }

  bool FusesSoftMins() const override { return true; }
  // Point-cloud tasks of one dimension in one launch (their clouds uploaded
  // once per job); anything else, or a device error, one task at a time.
  void RowSoftMins(absl::Span<const SoftMinTask> tasks, double eps,
                   const SolveControl& control) const override {
    if (!Fused(tasks, eps).ok()) {
      EntropicKernels::RowSoftMins(tasks, eps, control);
    }
  }

  bool TakesInBatch(int64_t n, int64_t m, int64_t d) const override {
    return BlockTakes(n, m, d);
  }
  // One launch, one block per problem. The host polls the stream and the
  // control; a cancel or deadline sets the mapped flag every block reads per
  // iteration.
  absl::Status SolveBatch(absl::Span<const SinkhornBatchItem> items,
                          std::vector<SinkhornBatchOutcome>* outcomes,
                          const SolveControl& control) const override {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time start = absl::Now();
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    const PackedBatch packed = PackBatch(items);
    const long count = static_cast<long>(packed.problems.size());
    DeviceArray<BlockProblem> problems;
    DeviceArray<BlockOutcome> blocks;
    Buffer coords, weights, scratch;
    OT_RETURN_IF_ERROR(problems.Reserve(count));
    OT_RETURN_IF_ERROR(blocks.Reserve(count));
    OT_RETURN_IF_ERROR(coords.Reserve(packed.coords.size()));
    OT_RETURN_IF_ERROR(weights.Reserve(packed.weights.size()));
    OT_RETURN_IF_ERROR(scratch.Reserve(packed.scratch));
    OT_RETURN_IF_ERROR(Upload(problems.get(), packed.problems.data(),
                              count * sizeof(BlockProblem)));
    OT_RETURN_IF_ERROR(
        Upload(coords.get(), packed.coords.data(), packed.coords.size() * 8));
    OT_RETURN_IF_ERROR(Upload(weights.get(), packed.weights.data(),
                              packed.weights.size() * 8));
    CancelFlag flag;
    OT_RETURN_IF_ERROR(flag.Init());
    OT_RETURN_IF_ERROR(
        Check(LaunchBlockSinkhorn(problems.get(), count, coords.get(),
                                  weights.get(), scratch.get(), flag.device(),
                                  blocks.get(), stream_),
              "launch"));
    // Wait, polling the control every millisecond.
    absl::Status stop;
    for (;;) {
      const cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) break;
      if (e != cudaErrorNotReady) return Check(e, "batch");
      if (stop.ok()) {
        stop = control.Check();
        if (!stop.ok()) flag.Set();
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    if (!stop.ok()) return stop;
    std::vector<BlockOutcome> host_blocks(count);
    std::vector<double> host_scratch(packed.scratch);
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(host_blocks.data(), blocks.get(),
                                             count * sizeof(BlockOutcome),
                                             cudaMemcpyDeviceToHost, stream_),
                             "copy"));
    OT_RETURN_IF_ERROR(Check(
        cudaMemcpyAsync(host_scratch.data(), scratch.get(), packed.scratch * 8,
                        cudaMemcpyDeviceToHost, stream_),
        "copy"));
    OT_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync"));
    UnpackBatch(packed, host_blocks, host_scratch.data(),
                absl::ToDoubleSeconds(absl::Now() - start), outcomes);
    return absl::OkStatus();
  }

 private:
  // Copies the job's cost data once (a solve reuses one source).
  absl::Status Upload(const CostSource& c) const {
    if (c.data_id() == uploaded_) return absl::OkStatus();
    uploaded_ = nullptr;
    if (auto clouds = c.clouds()) {
      OT_RETURN_IF_ERROR(UploadClouds(*clouds, &a_, &b_, &af_, &bf_, &cloud_));
      dense_ = false;
    } else {
      const RowMatrix copy = c.matrix();  // contiguous row-major
      OT_RETURN_IF_ERROR(a_.Reserve(copy.size()));
      OT_RETURN_IF_ERROR(
          Check(cudaMemcpyAsync(a_.get(), copy.data(), copy.size() * 8,
                                cudaMemcpyHostToDevice, stream_),
                "copy"));
      OT_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync"));
      cloud_ = CloudArgs{a_.get(), static_cast<long>(copy.rows()),
                         nullptr,  static_cast<long>(copy.cols()),
                         0,        PairCost::kSqEuclidean,
                         2.0};
      dense_ = true;
    }
    uploaded_ = c.data_id();
    return absl::OkStatus();
  }

  // A cloud source's points on the device, for fused reductions.
  struct Clouds {
    const void* id = nullptr;
    Buffer x, y, shifted, out;
    FloatBuffer xf, yf;
    CloudArgs args{};
  };

  // Both clouds of a source (coordinate-major), and float32 copies when the
  // job asked for float32 reductions (args.xf, args.yf set).
  absl::Status UploadClouds(const CostSource::CloudView& view, Buffer* x,
                            Buffer* y, FloatBuffer* xf, FloatBuffer* yf,
                            CloudArgs* args) const {
    const RowMatrix& xt = *view.xt;
    const RowMatrix& yt = *view.yt;
    OT_RETURN_IF_ERROR(x->Reserve(xt.size()));
    OT_RETURN_IF_ERROR(y->Reserve(yt.size()));
    OT_RETURN_IF_ERROR(Upload(x->get(), xt.data(), xt.size() * 8));
    OT_RETURN_IF_ERROR(Upload(y->get(), yt.data(), yt.size() * 8));
    *args = CloudArgs{x->get(),
                      static_cast<long>(xt.cols()),
                      y->get(),
                      static_cast<long>(yt.cols()),
                      static_cast<int>(xt.rows()),
                      ToPairCost(view.spec),
                      view.spec.Exponent()};
    if (float32_) {
      const Eigen::ArrayXf x32 = xt.reshaped().array().cast<float>();
      const Eigen::ArrayXf y32 = yt.reshaped().array().cast<float>();
      OT_RETURN_IF_ERROR(xf->Reserve(x32.size()));
      OT_RETURN_IF_ERROR(yf->Reserve(y32.size()));
      OT_RETURN_IF_ERROR(Upload(xf->get(), x32.data(), x32.size() * 4));
      OT_RETURN_IF_ERROR(Upload(yf->get(), y32.data(), y32.size() * 4));
      args->xf = xf->get();
      args->yf = yf->get();
      OT_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Clouds*> FusedClouds(const CostSource& c) const {
    for (const auto& u : fused_) {
      if (u->id == c.data_id()) return u.get();
    }
    const auto view = c.clouds();
    if (!view) return absl::InvalidArgumentError("not a cloud source");
    if (fused_.size() >= 4) fused_.clear();  // a new job's sources
    auto u = std::make_unique<Clouds>();
    OT_RETURN_IF_ERROR(
        UploadClouds(*view, &u->x, &u->y, &u->xf, &u->yf, &u->args));
    u->id = c.data_id();
    fused_.push_back(std::move(u));
    return fused_.back().get();
  }

  absl::Status Fused(absl::Span<const SoftMinTask> tasks, double eps) const {
    std::lock_guard<std::mutex> lock(mu_);
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    std::vector<SoftMinTaskArgs> args;
    std::vector<Eigen::ArrayXd> shifted(tasks.size());
    long max_rows = 0;
    int d = -1;
    // Each task's scratch (its shifted potential and output) lives with its
    // source; a source serves one task per call.
    std::vector<const void*> used;
    for (size_t k = 0; k < tasks.size(); ++k) {
      const SoftMinTask& t = tasks[k];
      absl::StatusOr<Clouds*> u = FusedClouds(*t.source);
      if (!u.ok()) return u.status();
      for (const void* id : used) {
        if (id == (*u)->id) return absl::InvalidArgumentError("shared source");
      }
      used.push_back((*u)->id);
      CloudArgs a = (*u)->args;
      if (t.source->transposed()) a = Swapped(a);
      if (d >= 0 && a.d != d) return absl::InvalidArgumentError("dimensions");
      d = a.d;
      shifted[k] = *t.log_w + *t.h / eps;  // as the CPU kernels form it
      OT_RETURN_IF_ERROR((*u)->shifted.Reserve(a.m));
      OT_RETURN_IF_ERROR((*u)->out.Reserve(a.n));
      OT_RETURN_IF_ERROR(
          Upload((*u)->shifted.get(), shifted[k].data(), a.m * 8));
      args.push_back({a, (*u)->shifted.get(), (*u)->out.get()});
      used_float32_ = used_float32_ || a.xf != nullptr;
      max_rows = std::max(max_rows, a.n);
    }
    OT_RETURN_IF_ERROR(
        tasks_.Reserve((args.size() * sizeof(SoftMinTaskArgs) + 7) / 8));
    OT_RETURN_IF_ERROR(Upload(tasks_.get(), args.data(),
                              args.size() * sizeof(SoftMinTaskArgs)));
    OT_RETURN_IF_ERROR(Check(
        LaunchCloudRowSoftMins(tasks_.get(), static_cast<int>(args.size()),
                               max_rows, d, eps, stream_),
        "launch"));
    for (size_t k = 0; k < tasks.size(); ++k) {
      tasks[k].out->resize(args[k].a.n);
      OT_RETURN_IF_ERROR(Check(
          cudaMemcpyAsync(tasks[k].out->data(), args[k].out, args[k].a.n * 8,
                          cudaMemcpyDeviceToHost, stream_),
          "copy"));
    }
    return Check(cudaStreamSynchronize(stream_), "sync");
  }

  absl::Status Upload(void* to, const void* from, size_t bytes) const {
    return Check(
        cudaMemcpyAsync(to, from, bytes, cudaMemcpyHostToDevice, stream_),
        "copy");
  }

  // A soft-min over the untransposed source, along its rows (out [n]) or its
  // columns (out [m]).
  absl::Status Reduce(const CostSource& c, const Eigen::ArrayXd& h,
                      const Eigen::ArrayXd& log_w, double eps,
                      Eigen::ArrayXd* out, bool along_rows) const {
    std::lock_guard<std::mutex> lock(mu_);
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    OT_RETURN_IF_ERROR(Upload(c));
    const Eigen::ArrayXd shifted = log_w + h / eps;
    const long n = cloud_.n, m = cloud_.m;
    const long count = along_rows ? n : m;
    const long other = along_rows ? m : n;
    OT_RETURN_IF_ERROR(w_.Reserve(other));
    OT_RETURN_IF_ERROR(o_.Reserve(count));
    OT_RETURN_IF_ERROR(
        Check(cudaMemcpyAsync(w_.get(), shifted.data(), other * 8,
                              cudaMemcpyHostToDevice, stream_),
              "copy"));
    cudaError_t launched;
    if (!dense_) {
      CloudArgs a = cloud_;
      if (!along_rows) a = Swapped(a);  // columns of C(x, y): rows of C(y, x)
      used_float32_ = used_float32_ || a.xf != nullptr;
      launched = LaunchCloudRowSoftMin(a, w_.get(), eps, o_.get(), stream_);
    } else if (along_rows) {
      launched = LaunchDenseRowSoftMin(a_.get(), n, m, w_.get(), eps, o_.get(),
                                       stream_);
    } else {
      launched = LaunchDenseColSoftMin(a_.get(), n, m, w_.get(), eps, o_.get(),
                                       stream_);
    }
    OT_RETURN_IF_ERROR(Check(launched, "launch"));
    out->resize(count);
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(out->data(), o_.get(), count * 8,
                                             cudaMemcpyDeviceToHost, stream_),
                             "copy"));
    return Check(cudaStreamSynchronize(stream_), "sync");
  }

  absl::Status Primal(const CostSource& c, const Eigen::ArrayXd& u,
                      const Eigen::ArrayXd& v, double eps, Eigen::ArrayXd* rows,
                      Eigen::ArrayXd* row_cost, RowMatrix* plan) const {
    std::lock_guard<std::mutex> lock(mu_);
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    OT_RETURN_IF_ERROR(Upload(c));
    const long n = cloud_.n, m = cloud_.m;
    Buffer du, dv, dr, dc, dp;
    OT_RETURN_IF_ERROR(du.Reserve(n));
    OT_RETURN_IF_ERROR(dv.Reserve(m));
    OT_RETURN_IF_ERROR(dr.Reserve(n));
    OT_RETURN_IF_ERROR(dc.Reserve(n));
    if (plan) OT_RETURN_IF_ERROR(dp.Reserve(n * m));
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(du.get(), u.data(), n * 8,
                                             cudaMemcpyHostToDevice, stream_),
                             "copy"));
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(dv.get(), v.data(), m * 8,
                                             cudaMemcpyHostToDevice, stream_),
                             "copy"));
    double* p = plan ? dp.get() : nullptr;
    OT_RETURN_IF_ERROR(
        Check(dense_ ? LaunchDensePrimal(a_.get(), n, m, du.get(), dv.get(),
                                         eps, dr.get(), dc.get(), p, stream_)
                     : LaunchCloudPrimal(cloud_, du.get(), dv.get(), eps,
                                         dr.get(), dc.get(), p, stream_),
              "launch"));
    rows->resize(n);
    row_cost->resize(n);
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(rows->data(), dr.get(), n * 8,
                                             cudaMemcpyDeviceToHost, stream_),
                             "copy"));
    OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(row_cost->data(), dc.get(), n * 8,
                                             cudaMemcpyDeviceToHost, stream_),
                             "copy"));
    if (plan) {
      plan->resize(n, m);
      OT_RETURN_IF_ERROR(Check(cudaMemcpyAsync(plan->data(), p, n * m * 8,
                                               cudaMemcpyDeviceToHost, stream_),
                               "copy"));
    }
    return Check(cudaStreamSynchronize(stream_), "sync");
  }

  const int device_;
  cudaStream_t stream_ = nullptr;
  // Device state, guarded by mu_ (the kernels serve one job; the lock keeps
  // concurrent calls from one solve's helpers safe).
  mutable std::mutex mu_;
  mutable Buffer a_, b_, w_, o_;  // a_: x or the matrix, b_: y; scratch
  mutable FloatBuffer af_, bf_;   // float32 copies of x and y (float32 jobs)
  const bool float32_;
  mutable bool used_float32_ = false;
  // Fused reductions: the sources of the job's task sets, and the task table.
  mutable std::vector<std::unique_ptr<Clouds>> fused_;
  mutable DeviceArray<SoftMinTaskArgs> tasks_;
  mutable const void* uploaded_ = nullptr;
  mutable CloudArgs cloud_{};
  mutable bool dense_ = false;
};

// Sliced projections and sorts on one device: the clouds (coordinate-major)
// and weights uploaded once per call, then chunks of directions
// (SlicedChunkDirections) projected, sorted and walked; the control checked
// between chunks.
class CudaSliced final : public SlicedKernels {
 public:
  explicit CudaSliced(int device) : device_(device) {}
  ~CudaSliced() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  absl::Status Init() {
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    return Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                 "cudaStreamCreate");
  }
  absl::string_view name() const override { return "cuda"; }
  absl::Status ProjectedCosts(const MatrixView& x, const VectorView& a,
                              const MatrixView& y, const VectorView& b,
                              const RowMatrix& directions, double p,
                              Eigen::VectorXd* per_direction,
                              const SolveControl& control) const override {
    std::lock_guard<std::mutex> lock(mu_);
    OT_RETURN_IF_ERROR(Check(cudaSetDevice(device_), "cudaSetDevice"));
    const long n = x.rows(), m = y.rows(), d = x.cols();
    const long total = directions.rows();
    const long chunk = SlicedChunkDirections(n, m, total);
    const RowMatrix xt = x.transpose(), yt = y.transpose();
    const Eigen::VectorXd wa = a, wb = b;
    Buffer dx, dy, da, db, dirs, out;
    Buffer px, py, pxs, pys, wx, wy, wxs, wys;
    DeviceArray<long> xo, yo;
    DeviceArray<unsigned char> temp;
    for (auto [buf, size] : {std::pair{&dx, n * d},
                             {&dy, m * d},
                             {&da, n},
                             {&db, m},
                             {&dirs, chunk * d},
                             {&out, chunk},
                             {&px, chunk * n},
                             {&pxs, chunk * n},
                             {&wx, chunk * n},
                             {&wxs, chunk * n},
                             {&py, chunk * m},
                             {&pys, chunk * m},
                             {&wy, chunk * m},
                             {&wys, chunk * m}}) {
      OT_RETURN_IF_ERROR(buf->Reserve(size));
    }
    OT_RETURN_IF_ERROR(xo.Reserve(chunk + 1));
    OT_RETURN_IF_ERROR(yo.Reserve(chunk + 1));
    size_t temp_bytes = 0;
    OT_RETURN_IF_ERROR(
        Check(SlicedTempBytes(n, m, chunk, &temp_bytes), "sort size"));
    OT_RETURN_IF_ERROR(temp.Reserve(temp_bytes));
    OT_RETURN_IF_ERROR(Copy(dx.get(), xt.data(), n * d * 8));
    OT_RETURN_IF_ERROR(Copy(dy.get(), yt.data(), m * d * 8));
    OT_RETURN_IF_ERROR(Copy(da.get(), wa.data(), n * 8));
    OT_RETURN_IF_ERROR(Copy(db.get(), wb.data(), m * 8));
    per_direction->resize(total);
    for (long l0 = 0; l0 < total; l0 += chunk) {
      OT_RETURN_IF_ERROR(control.Check());
      const long count = std::min(chunk, total - l0);
      OT_RETURN_IF_ERROR(
          Copy(dirs.get(), directions.row(l0).data(), count * d * 8));
      SlicedChunkArgs args{dx.get(),
                           n,
                           dy.get(),
                           m,
                           static_cast<int>(d),
                           da.get(),
                           db.get(),
                           wa.sum() / wb.sum(),
                           p,
                           dirs.get(),
                           count,
                           px.get(),
                           py.get(),
                           pxs.get(),
                           pys.get(),
                           wx.get(),
                           wy.get(),
                           wxs.get(),
                           wys.get(),
                           xo.get(),
                           yo.get(),
                           temp.get(),
                           temp_bytes,
                           out.get()};
      OT_RETURN_IF_ERROR(Check(LaunchSlicedChunk(args, stream_), "sliced"));
      OT_RETURN_IF_ERROR(
          Check(cudaMemcpyAsync(per_direction->data() + l0, out.get(),
                                count * 8, cudaMemcpyDeviceToHost, stream_),
                "copy"));
      OT_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Copy(void* to, const void* from, size_t bytes) const {
    return Check(
        cudaMemcpyAsync(to, from, bytes, cudaMemcpyHostToDevice, stream_),
        "copy");
  }

  const int device_;
  cudaStream_t stream_ = nullptr;
  mutable std::mutex mu_;  // one call at a time on the stream
};

class Cuda final : public GpuBackend {
 public:
  std::string name() const override { return "cuda"; }
  std::vector<GpuDevice> Devices() const override {
    std::vector<GpuDevice> out;
    int count = 0;
    if (!Check(cudaGetDeviceCount(&count), "device count").ok()) return out;
    for (int id = 0; id < count; ++id) {
      cudaDeviceProp prop;
      if (!Check(cudaGetDeviceProperties(&prop, id), "properties").ok()) {
        continue;
      }
      GpuDevice d;
      d.id = id;
      d.name = prop.name;
      d.total_bytes = static_cast<int64_t>(prop.totalGlobalMem);
      d.compute_major = prop.major;
      d.compute_minor = prop.minor;
      size_t free_bytes = 0, total = 0;
      if (cudaSetDevice(id) == cudaSuccess &&
          cudaMemGetInfo(&free_bytes, &total) == cudaSuccess) {
        d.free_bytes = static_cast<int64_t>(free_bytes);
      }
      out.push_back(d);
    }
    return out;
  }
  absl::StatusOr<std::unique_ptr<EntropicKernels>> Kernels(
      int id, Precision precision) const override {
    auto k = std::make_unique<CudaKernels>(id, precision);
    OT_RETURN_IF_ERROR(k->Init());
    return std::unique_ptr<EntropicKernels>(std::move(k));
  }
  absl::StatusOr<std::unique_ptr<SlicedKernels>> Sliced(int id) const override {
    auto k = std::make_unique<CudaSliced>(id);
    OT_RETURN_IF_ERROR(k->Init());
    return std::unique_ptr<SlicedKernels>(std::move(k));
  }
};

}  // namespace

bool CudaCompiled() { return true; }
const GpuBackend& CudaBackend() {
  static const Cuda backend;
  return backend;
}

}  // namespace otcore::gpu
