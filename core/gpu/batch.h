// Batches of small Sinkhorn problems for the whole-solve block kernel
// (block_sinkhorn.h): packing the items into flat arrays with per-problem
// offsets (what the device receives), turning block outcomes back into
// results, and running the blocks on the host (the reference the tests check
// against SolveSinkhorn, and the fake device of the server tests). Pure
// functions; thread-safe.
#ifndef OTSERVE_CORE_GPU_BATCH_H_
#define OTSERVE_CORE_GPU_BATCH_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/entropic/kernels.h"
#include "core/gpu/block_sinkhorn.h"

namespace otcore::gpu {

// Largest side of a problem the block kernel takes (larger ones run through
// the row kernels one problem at a time), and its dimension cap.
inline constexpr int64_t kBlockMaxPoints = 4096;
inline constexpr int64_t kBlockMaxDim = 64;
inline bool BlockTakes(int64_t n, int64_t m, int64_t d) {
  return n <= kBlockMaxPoints && m <= kBlockMaxPoints && d <= kBlockMaxDim;
}

// The kernels' cost kind of a cloud cost spec (kExplicit has none).
PairCost ToPairCost(const CostSpec& spec);

struct PackedBatch {
  std::vector<BlockProblem> problems;
  std::vector<double> coords, weights;
  int64_t scratch = 0;    // doubles of per-problem scratch, all problems
  int64_t Bytes() const;  // what the device holds, outcomes included
};

PackedBatch PackBatch(absl::Span<const SinkhornBatchItem> items);

// Device bytes one problem of n x m points in dimension d takes in a batch:
// its points, weights and log-weights, scratch and descriptors.
int64_t BlockProblemBytes(int64_t n, int64_t m, int64_t d);

// Results from the blocks' outcomes and scratch (the potentials); `seconds`
// is the batch's wall time, given to every item.
void UnpackBatch(const PackedBatch& packed,
                 absl::Span<const BlockOutcome> blocks, const double* scratch,
                 double seconds, std::vector<SinkhornBatchOutcome>* out);

// Every block on this thread, the control checked between problems.
absl::Status SolveBatchOnHost(absl::Span<const SinkhornBatchItem> items,
                              std::vector<SinkhornBatchOutcome>* outcomes,
                              const SolveControl& control);

}  // namespace otcore::gpu

#endif  // OTSERVE_CORE_GPU_BATCH_H_
