// CostSource: where entropic kernels read the ground cost C [n, m]. Either a
// dense matrix (viewed, not copied) or two point clouds with a cost kind whose
// entries are evaluated on the fly in cache-sized tiles (matrix-free: memory
// O((n + m) d), never n x m). Cheap to copy (shared immutable data); safe to
// read from many threads. A dense source views its matrix: the matrix must
// outlive every copy. A cloud source copies the points.
#ifndef OTSERVE_CORE_COMMON_COST_SOURCE_H_
#define OTSERVE_CORE_COMMON_COST_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "core/common/cost.h"
#include "core/common/types.h"

namespace otcore {

// Point clouds are reduced matrix-free up to this dimension (tiles from
// coordinate differences cost about as much as reading a stored matrix), and
// at any dimension beyond kMatrixFreeMinEntries cost entries (256 MB).
inline constexpr int64_t kMatrixFreeMaxDim = 16;
inline constexpr int64_t kMatrixFreeMinEntries = int64_t{1} << 25;
// The one matrix-free rule: clouds of n and m points in dimension d.
bool PreferMatrixFree(int64_t n, int64_t m, int64_t d);

class CostSource {
 public:
  // Views `c` (kept alive by the caller).
  static CostSource Dense(const MatrixView& c);
  // x [n, d], y [m, d] finite; spec.kind != kExplicit.
  static CostSource Clouds(const MatrixView& x, const MatrixView& y,
                           const CostSpec& spec);
  // Clouds by the matrix-free rule: Clouds(x, y, spec) when PreferMatrixFree,
  // else the cost formed once into *formed (kept alive by the caller) and
  // viewed.
  static CostSource ForClouds(const MatrixView& x, const MatrixView& y,
                              const CostSpec& spec, RowMatrix* formed);

  Eigen::Index rows() const { return transposed_ ? cols_ : rows_; }
  Eigen::Index cols() const { return transposed_ ? rows_ : cols_; }
  bool is_dense() const { return dense_ != nullptr; }
  bool transposed() const { return transposed_; }
  // The dense matrix (untransposed); only when is_dense().
  const MatrixView& matrix() const { return *dense_; }

  // C^T, sharing the data.
  CostSource Transposed() const;

  // For backends that keep the cost elsewhere (a GPU): a cloud source's points,
  // untransposed, coordinate-major ([d, n] and [d, m], possibly shifted by one
  // common centre: costs are translation invariant) with its cost spec; null
  // for a dense source.
  struct CloudView {
    const RowMatrix* xt;
    const RowMatrix* yt;
    CostSpec spec;
  };
  std::optional<CloudView> clouds() const;
  // Identifies the shared data: equal for copies and transposes of a source.
  const void* data_id() const;

  // Rows [i0, i0 + nr) x columns [j0, j0 + nc) of C into out (resized).
  void Tile(Eigen::Index i0, Eigen::Index nr, Eigen::Index j0, Eigen::Index nc,
            RowMatrix* out) const;

  // Unweighted mean of all entries (closed form for squared Euclidean clouds).
  double Mean() const;
  // max C - min C for a dense matrix; for clouds an upper bound from the
  // bounding box of both clouds (GeomLoss's diameter).
  double Range() const;
  bool AllFinite() const;

 private:
  struct Clouds_;
  CostSource() = default;

  std::shared_ptr<const MatrixView> dense_;
  std::shared_ptr<const Clouds_> clouds_;
  Eigen::Index rows_ = 0, cols_ = 0;
  bool transposed_ = false;
};

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_COST_SOURCE_H_
