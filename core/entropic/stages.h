// The epsilon-scaling schedule's stage rules, shared by the CPU Sinkhorn
// (sinkhorn.cc) and the GPU's whole-solve batch kernel
// (core/gpu/block_sinkhorn.h) so that both stop their stages alike. Plain
// constants, no dependencies.
#ifndef OTSERVE_CORE_ENTROPIC_STAGES_H_
#define OTSERVE_CORE_ENTROPIC_STAGES_H_

namespace otcore {

// Iteration cap of each intermediate epsilon stage.
inline constexpr long kStageIterations = 100;
// Marginal error that ends an intermediate stage.
inline constexpr double kStageTolerance = 1e-2;
// Epsilon shrinks by this factor per stage.
inline constexpr double kStageShrink = 0.5;

}  // namespace otcore

#endif  // OTSERVE_CORE_ENTROPIC_STAGES_H_
