// Log-domain soft-min kernels.
#include "core/entropic/softmin.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace otcore {
namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// Rows per parallel task: each row is a full pass over the other measure.
constexpr int64_t kRowsPerTask = 16;
}  // namespace

void RowSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  out->resize(c.rows());
  // Rows are independent: each range writes its own entries of `out`.
  auto rows = [&](int64_t begin, int64_t end) {
    Eigen::ArrayXd z(c.cols());
    for (Eigen::Index i = begin; i < end; ++i) {
      z = shifted - c.row(i).transpose().array() * inv_eps;
      const double mx = z.maxCoeff();
      (*out)(i) = mx == kNegInf ? std::numeric_limits<double>::infinity()
                                : -eps * (mx + std::log((z - mx).exp().sum()));
    }
  };
  if (control) {
    control->ParallelRange(c.rows(), kRowsPerTask, rows);
  } else {
    rows(0, c.rows());
  }
}

void ColSoftMin(const MatrixView& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  const Eigen::Index m = c.cols();
  // Two streaming passes over row ranges: per-range column maxima, merged; then
  // per-range shifted sums (one exp per entry), merged. Ranges touch only their
  // own partial arrays until they merge under the mutex.
  Eigen::ArrayXd mx = Eigen::ArrayXd::Constant(m, kNegInf);
  Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(m);
  std::mutex mu;
  auto max_pass = [&](int64_t begin, int64_t end) {
    Eigen::ArrayXd local = Eigen::ArrayXd::Constant(m, kNegInf);
    for (Eigen::Index i = begin; i < end; ++i) {
      if (shifted(i) == kNegInf) continue;
      local = local.max(shifted(i) - c.row(i).transpose().array() * inv_eps);
    }
    std::lock_guard<std::mutex> lock(mu);
    mx = mx.max(local);
  };
  // Partial sums are merged in range order, so results do not depend on timing.
  std::vector<std::pair<int64_t, Eigen::ArrayXd>> partial_sums;
  auto sum_pass = [&](int64_t begin, int64_t end) {
    Eigen::ArrayXd local = Eigen::ArrayXd::Zero(m);
    for (Eigen::Index i = begin; i < end; ++i) {
      if (shifted(i) == kNegInf) continue;
      local +=
          ((shifted(i) - c.row(i).transpose().array() * inv_eps) - mx).exp();
    }
    std::lock_guard<std::mutex> lock(mu);
    partial_sums.emplace_back(begin, std::move(local));
  };
  if (control) {
    control->ParallelRange(c.rows(), kRowsPerTask, max_pass);
    control->ParallelRange(c.rows(), kRowsPerTask, sum_pass);
  } else {
    max_pass(0, c.rows());
    sum_pass(0, c.rows());
  }
  std::sort(partial_sums.begin(), partial_sums.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [begin, local] : partial_sums) sum += local;
  *out = -eps * (mx + sum.log());
}

namespace {
// Rows per tile and columns per tile of the matrix-free reduction: a tile of
// 8 x 512 doubles (32 KB) stays in L1/L2 while it is reduced.
constexpr Eigen::Index kTileRows = 8;
constexpr Eigen::Index kTileCols = 512;

// Matrix-free RowSoftMin: per row a running max and a sum rescaled whenever
// the max grows, so each entry is touched once after its tile is formed.
void TiledRowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                     const Eigen::ArrayXd& log_w, double eps,
                     Eigen::ArrayXd* out, const SolveControl* control) {
  const Eigen::ArrayXd shifted = log_w + h / eps;
  const double inv_eps = 1.0 / eps;
  const Eigen::Index n = c.rows(), m = c.cols();
  out->resize(n);
  auto rows = [&](int64_t begin, int64_t end) {
    RowMatrix tile;
    Eigen::ArrayXd z(kTileCols);
    double mx[kTileRows], sum[kTileRows];
    for (Eigen::Index i0 = begin; i0 < end; i0 += kTileRows) {
      const Eigen::Index nr = std::min<Eigen::Index>(kTileRows, end - i0);
      std::fill(mx, mx + nr, kNegInf);
      std::fill(sum, sum + nr, 0.0);
      for (Eigen::Index j0 = 0; j0 < m; j0 += kTileCols) {
        const Eigen::Index nc = std::min(kTileCols, m - j0);
        c.Tile(i0, nr, j0, nc, &tile);
        for (Eigen::Index r = 0; r < nr; ++r) {
          auto zr = z.head(nc);
          zr = shifted.segment(j0, nc) -
               tile.row(r).transpose().array() * inv_eps;
          const double tile_max = zr.maxCoeff();
          if (tile_max == kNegInf) continue;
          if (tile_max > mx[r]) {
            sum[r] *= std::exp(mx[r] - tile_max);
            mx[r] = tile_max;
          }
          sum[r] += (zr - mx[r]).exp().sum();
        }
      }
      for (Eigen::Index r = 0; r < nr; ++r) {
        (*out)(i0 + r) = mx[r] == kNegInf
                             ? std::numeric_limits<double>::infinity()
                             : -eps * (mx[r] + std::log(sum[r]));
      }
    }
  };
  if (control) {
    control->ParallelRange(n, 2 * kTileRows, rows);
  } else {
    rows(0, n);
  }
}
}  // namespace

void RowSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control) {
  if (!c.is_dense()) return TiledRowSoftMin(c, h, log_w, eps, out, control);
  if (c.transposed())
    return ColSoftMin(c.matrix(), h, log_w, eps, out, control);
  RowSoftMin(c.matrix(), h, log_w, eps, out, control);
}

void ColSoftMin(const CostSource& c, const Eigen::ArrayXd& h,
                const Eigen::ArrayXd& log_w, double eps, Eigen::ArrayXd* out,
                const SolveControl* control) {
  RowSoftMin(c.Transposed(), h, log_w, eps, out, control);
}

void ForEachRowBlock(
    const CostSource& c, const SolveControl* control,
    const std::function<void(Eigen::Index, const RowMatrix&)>& body) {
  auto rows = [&](int64_t begin, int64_t end) {
    RowMatrix tile;
    for (Eigen::Index i0 = begin; i0 < end; i0 += kTileRows) {
      const Eigen::Index nr = std::min<Eigen::Index>(kTileRows, end - i0);
      c.Tile(i0, nr, 0, c.cols(), &tile);
      body(i0, tile);
    }
  };
  if (control) {
    control->ParallelRange(c.rows(), 2 * kTileRows, rows);
  } else {
    rows(0, c.rows());
  }
}

double RowMarginalError(const Eigen::ArrayXd& a, const Eigen::ArrayXd& f,
                        const Eigen::ArrayXd& f_next, double eps) {
  return (a > 0).select(a * ((f - f_next) / eps).exp() - a, 0.0).abs().sum();
}

double GeneralizedKl(const Eigen::ArrayXd& p, const Eigen::ArrayXd& q) {
  double kl = 0.0;
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    if (p(i) > 0.0) kl += p(i) * std::log(p(i) / q(i));
    kl += q(i) - p(i);
  }
  return kl;
}

}  // namespace otcore
