// Dense and matrix-free cost sources.
#include "core/common/cost_source.h"

#include <algorithm>
#include <cmath>

namespace otcore {

// Points stored coordinate-major (d x n): a tile row is d vectorised passes
// over contiguous coordinates.
struct CostSource::Clouds_ {
  // [d, n], [d, m]; above kDirectMaxDim both are shifted by one common centre
  // (costs are translation invariant), so that ||x||^2 + ||y||^2 - 2 x.y does
  // not cancel catastrophically for clouds far from the origin.
  RowMatrix xt, yt;
  Eigen::ArrayXd nx, ny;  // squared norms (the GEMM form for large d)
  CostSpec spec;
  double range = 0.0;    // upper bound of max C - min C
  double mean_sq = 0.0;  // mean ||x_i - y_j||^2, from centred sums
};

std::optional<CostSource::CloudView> CostSource::clouds() const {
  if (!clouds_) return std::nullopt;
  return CloudView{&clouds_->xt, &clouds_->yt, clouds_->spec};
}

const void* CostSource::data_id() const {
  return dense_ ? static_cast<const void*>(dense_.get())
                : static_cast<const void*>(clouds_.get());
}

namespace {
// Up to this dimension tiles are formed from coordinate differences (exact for
// nearby points); above it by ||x||^2 + ||y||^2 - 2 x.y with a matrix product.
constexpr Eigen::Index kDirectMaxDim = 16;

// Squared distances -> the cost kind, in place.
template <typename Block>
void ApplyKind(const CostSpec& spec, Block&& sq) {
  if (spec.kind == CostKind::kEuclidean) {
    sq = sq.array().sqrt();
  } else if (spec.kind == CostKind::kPower && spec.p != 2.0) {
    sq = sq.array().pow(spec.p / 2.0);
  }
}
}  // namespace

CostSource CostSource::Dense(const MatrixView& c) {
  CostSource s;
  s.dense_ = std::make_shared<const MatrixView>(c);
  s.rows_ = c.rows();
  s.cols_ = c.cols();
  return s;
}

bool PreferMatrixFree(int64_t n, int64_t m, int64_t d) {
  return d <= kMatrixFreeMaxDim || n * m > kMatrixFreeMinEntries;
}

CostSource CostSource::ForClouds(const MatrixView& x, const MatrixView& y,
                                 const CostSpec& spec, RowMatrix* formed) {
  if (PreferMatrixFree(x.rows(), y.rows(), x.cols())) {
    return Clouds(x, y, spec);
  }
  *formed = PairwiseCost(x, y, spec);
  return Dense(*formed);
}

CostSource CostSource::Clouds(const MatrixView& x, const MatrixView& y,
                              const CostSpec& spec) {
  auto c = std::make_shared<Clouds_>();
  c->xt = x.transpose();
  c->yt = y.transpose();
  if (x.rows() > 0 && y.rows() > 0) {
    // mean ||x - y||^2 = var(x) + var(y) + ||mean x - mean y||^2, each term
    // from centred coordinates (no cancellation under translation).
    const Eigen::VectorXd mx = c->xt.rowwise().mean();
    const Eigen::VectorXd my = c->yt.rowwise().mean();
    c->mean_sq = (c->xt.colwise() - mx).colwise().squaredNorm().mean() +
                 (c->yt.colwise() - my).colwise().squaredNorm().mean() +
                 (mx - my).squaredNorm();
    if (x.cols() > kDirectMaxDim) {
      const Eigen::VectorXd centre = 0.5 * (mx + my);
      c->xt.colwise() -= centre;
      c->yt.colwise() -= centre;
    }
  }
  c->nx = c->xt.colwise().squaredNorm().transpose().array();
  c->ny = c->yt.colwise().squaredNorm().transpose().array();
  c->spec = spec;
  if (x.rows() > 0 && y.rows() > 0) {
    const Eigen::ArrayXd hi = c->xt.rowwise().maxCoeff().array().max(
        c->yt.rowwise().maxCoeff().array());
    const Eigen::ArrayXd lo = c->xt.rowwise().minCoeff().array().min(
        c->yt.rowwise().minCoeff().array());
    const double diam2 = (hi - lo).square().sum();
    c->range = spec.kind == CostKind::kSqEuclidean
                   ? diam2
                   : std::pow(diam2, spec.Exponent() / 2.0);
  }
  CostSource s;
  s.clouds_ = std::move(c);
  s.rows_ = x.rows();
  s.cols_ = y.rows();
  return s;
}

CostSource CostSource::Transposed() const {
  CostSource t = *this;
  t.transposed_ = !transposed_;
  return t;
}

void CostSource::Tile(Eigen::Index i0, Eigen::Index nr, Eigen::Index j0,
                      Eigen::Index nc, RowMatrix* out) const {
  out->resize(nr, nc);
  if (dense_) {
    if (transposed_) {
      *out = dense_->block(j0, i0, nc, nr).transpose();
    } else {
      *out = dense_->block(i0, j0, nr, nc);
    }
    return;
  }
  const Clouds_& c = *clouds_;
  const RowMatrix& a = transposed_ ? c.yt : c.xt;
  const RowMatrix& b = transposed_ ? c.xt : c.yt;
  const Eigen::ArrayXd& na = transposed_ ? c.ny : c.nx;
  const Eigen::ArrayXd& nb = transposed_ ? c.nx : c.ny;
  const Eigen::Index d = a.rows();
  if (d <= kDirectMaxDim) {
    for (Eigen::Index r = 0; r < nr; ++r) {
      auto row = out->row(r).array();
      row.setZero();
      for (Eigen::Index k = 0; k < d; ++k) {
        row += (b.row(k).segment(j0, nc).array() - a(k, i0 + r)).square();
      }
    }
  } else {
    out->noalias() =
        -2.0 * a.middleCols(i0, nr).transpose() * b.middleCols(j0, nc);
    for (Eigen::Index r = 0; r < nr; ++r) {
      out->row(r).array() =
          (out->row(r).array() + nb.segment(j0, nc).transpose() + na(i0 + r))
              .max(0.0);
    }
  }
  ApplyKind(c.spec, *out);
}

double CostSource::Mean() const {
  if (rows_ == 0 || cols_ == 0) return 0.0;
  if (dense_) return dense_->mean();
  const Clouds_& c = *clouds_;
  if (c.spec.kind == CostKind::kSqEuclidean) return c.mean_sq;
  // One pass over the tiles.
  constexpr Eigen::Index kRows = 8;
  double total = 0.0;
  RowMatrix tile;
  CostSource untransposed = *this;
  untransposed.transposed_ = false;
  for (Eigen::Index i0 = 0; i0 < rows_; i0 += kRows) {
    const Eigen::Index nr = std::min(kRows, rows_ - i0);
    untransposed.Tile(i0, nr, 0, cols_, &tile);
    total += tile.sum();
  }
  return total / (static_cast<double>(rows_) * static_cast<double>(cols_));
}

double CostSource::Range() const {
  if (rows_ == 0 || cols_ == 0) return 0.0;
  if (dense_) return dense_->maxCoeff() - dense_->minCoeff();
  return clouds_->range;
}

bool CostSource::AllFinite() const {
  if (dense_) return dense_->allFinite();
  return clouds_->xt.allFinite() && clouds_->yt.allFinite() &&
         std::isfinite(clouds_->range);
}

}  // namespace otcore
