// Fused soft-min over point clouds.
#include "core/entropic/cloud_softmin.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/common/simd.h"

namespace otcore {
namespace {

using simd::kLanes;
using simd::V8d;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// Rows reduced together (each column packet of the other cloud is loaded once
// for them) and columns per tile: 4 x 1024 doubles of exponents = 32 KB.
constexpr int kBlockRows = 4;
constexpr Eigen::Index kTileCols = 1024;
// Packets per step of the exponential pass; columns are padded to whole
// steps.
constexpr int kUnroll = 4;
constexpr Eigen::Index kColumnQuantum = kUnroll * kLanes;

// The column cloud, centred, coordinate-major and padded to whole steps
// (padding columns repeat the last point; their exponents are -inf). With
// ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y the exponent of entry (i, j) is
// shifted_j + sum_k (2 x_ik / eps) y_jk - ||x_i||^2 / eps: one FMA per
// coordinate, and the row's constant is added after the reduction. Centring
// both clouds at one point keeps the norms at the clouds' spread.
struct PaddedColumns {
  Eigen::Index m = 0, padded = 0, d = 0;
  Eigen::VectorXd centre;
  std::vector<double> coords;   // [d, padded], centred
  std::vector<double> shifted;  // log_w + (h - ||y||^2) / eps, -inf padding
};

template <bool kFloat32Exp>
void ReduceRows(const RowMatrix& rows_pts, const PaddedColumns& cols,
                double eps, Eigen::Index begin, Eigen::Index end,
                Eigen::ArrayXd* out) {
  const Eigen::Index d = cols.d;
  const double inv_eps = 1.0 / eps;
  alignas(64) double z[kBlockRows][kTileCols];
  double scaled[kBlockRows][kMatrixFreeMaxDim];  // 2 (x_i - centre) / eps
  double row_constant[kBlockRows];               // -||x_i - centre||^2 / eps
  for (Eigen::Index i0 = begin; i0 < end; i0 += kBlockRows) {
    const int nr =
        static_cast<int>(std::min<Eigen::Index>(kBlockRows, end - i0));
    double mx[kBlockRows], sum[kBlockRows];
    for (int r = 0; r < kBlockRows; ++r) {
      // Short blocks repeat their last row (computed, not stored).
      const Eigen::Index i = i0 + std::min(r, nr - 1);
      double norm = 0.0;
      for (Eigen::Index k = 0; k < d; ++k) {
        const double x = rows_pts(k, i) - cols.centre(k);
        scaled[r][k] = 2.0 * x * inv_eps;
        norm += x * x;
      }
      row_constant[r] = -norm * inv_eps;
      mx[r] = kNegInf;
      sum[r] = 0.0;
    }
    for (Eigen::Index j0 = 0; j0 < cols.padded; j0 += kTileCols) {
      const Eigen::Index nc = std::min(kTileCols, cols.padded - j0);
      // Pass 1: exponents (without the row constants) and their maxima.
      V8d vmax[kBlockRows];
      for (int r = 0; r < kBlockRows; ++r) vmax[r] = simd::Broadcast(kNegInf);
      for (Eigen::Index j = 0; j < nc; j += kLanes) {
        const V8d s = simd::Load(&cols.shifted[j0 + j]);
        V8d acc[kBlockRows];
        for (int r = 0; r < kBlockRows; ++r) acc[r] = s;
        for (Eigen::Index k = 0; k < d; ++k) {
          const V8d y = simd::Load(&cols.coords[k * cols.padded + j0 + j]);
          for (int r = 0; r < kBlockRows; ++r) acc[r] += y * scaled[r][k];
        }
        for (int r = 0; r < kBlockRows; ++r) {
          simd::Store(&z[r][j], acc[r]);
          vmax[r] = simd::Max(vmax[r], acc[r]);
        }
      }
      // Pass 2: rescale the running sums to the new maxima, add the tile.
      for (int r = 0; r < nr; ++r) {
        const double tile_max = simd::HorizontalMax(vmax[r]);
        if (tile_max == kNegInf) continue;
        if (tile_max > mx[r]) {
          sum[r] *= std::exp(mx[r] - tile_max);
          mx[r] = tile_max;
        }
        // Four independent accumulators: the exponentials are short, so one
        // sum chain would bound the loop by the add latency.
        const V8d shift = simd::Broadcast(mx[r]);
        V8d acc[kUnroll] = {};
        for (Eigen::Index j = 0; j < nc; j += kUnroll * kLanes) {
          for (int u = 0; u < kUnroll; ++u) {
            const V8d x = simd::Load(&z[r][j + u * kLanes]) - shift;
            if constexpr (kFloat32Exp) {
              acc[u] += simd::ExpNonPositiveF32(x);
            } else {
              acc[u] += simd::ExpNonPositive(x);
            }
          }
        }
        sum[r] += simd::HorizontalSum((acc[0] + acc[1]) + (acc[2] + acc[3]));
      }
    }
    for (int r = 0; r < nr; ++r) {
      (*out)(i0 + r) =
          mx[r] == kNegInf
              ? std::numeric_limits<double>::infinity()
              : -eps * (mx[r] + std::log(sum[r]) + row_constant[r]);
    }
  }
}

}  // namespace

bool FusesCloudSoftMin(const CostSource& c) {
  const auto clouds = c.clouds();
  return clouds && clouds->xt->rows() <= kMatrixFreeMaxDim &&
         clouds->spec.kind == CostKind::kSqEuclidean;
}

void FusedCloudRowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                          const Eigen::ArrayXd& log_w, double eps,
                          bool float32_exp, Eigen::ArrayXd* out,
                          const SolveControl* control) {
  const CostSource::CloudView v = *c.clouds();
  const RowMatrix& rows_pts = c.transposed() ? *v.yt : *v.xt;
  const RowMatrix& col_pts = c.transposed() ? *v.xt : *v.yt;
  PaddedColumns cols;
  cols.m = col_pts.cols();
  cols.d = col_pts.rows();
  cols.padded = (cols.m + kColumnQuantum - 1) / kColumnQuantum * kColumnQuantum;
  const Eigen::Index n = rows_pts.cols();
  out->resize(n);
  if (n == 0) return;
  if (cols.m == 0) {
    out->setConstant(std::numeric_limits<double>::infinity());
    return;
  }
  cols.centre = 0.5 * (rows_pts.rowwise().mean() + col_pts.rowwise().mean());
  cols.coords.resize(cols.d * cols.padded);
  cols.shifted.assign(cols.padded, kNegInf);
  for (Eigen::Index k = 0; k < cols.d; ++k) {
    for (Eigen::Index j = 0; j < cols.padded; ++j) {
      cols.coords[k * cols.padded + j] =
          col_pts(k, std::min(j, cols.m - 1)) - cols.centre(k);
    }
  }
  for (Eigen::Index j = 0; j < cols.m; ++j) {
    double norm = 0.0;
    for (Eigen::Index k = 0; k < cols.d; ++k) {
      norm +=
          cols.coords[k * cols.padded + j] * cols.coords[k * cols.padded + j];
    }
    cols.shifted[j] = log_w(j) + (h(j) - norm) / eps;
  }
  auto run = [&](int64_t begin, int64_t end) {
    if (float32_exp) {
      ReduceRows<true>(rows_pts, cols, eps, begin, end, out);
    } else {
      ReduceRows<false>(rows_pts, cols, eps, begin, end, out);
    }
  };
  if (control) {
    control->ParallelRange(n, 4 * kBlockRows, run);
  } else {
    run(0, n);
  }
}

}  // namespace otcore
