// libFuzzer target over request decoding, validation and (for small problems)
// the solve: the first input byte picks the RPC, the rest is parsed as its
// request message. Nothing a client can send may crash, hang or trip a
// sanitizer. Build with -DOTSERVE_FUZZ=ON (clang); see scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "core/common/control.h"
#include "server/jobs/jobs.h"

namespace {

using otserve::DecodeContext;
using otserve::RunContext;

// Small limits keep every admitted solve short.
DecodeContext FuzzContext() {
  DecodeContext c;
  c.limits.max_points = 64;
  c.limits.max_cost_entries = 4096;
  c.limits.max_dense_dimension = 16;
  c.max_message_bytes = 1 << 20;
  return c;
}

template <typename Job>
void DecodeAndRun(const uint8_t* data, size_t size) {
  typename Job::Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  auto job = Job::Decode(request, FuzzContext());
  if (!job.ok()) return;
  otcore::SolveControl control;
  control.set_deadline(absl::Now() + absl::Milliseconds(20));
  typename Job::Response response;
  (*job)
      ->Run(RunContext{control, absl::ZeroDuration()}, &response)
      .IgnoreError();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 8) {
    case 0:
      DecodeAndRun<otserve::DistanceJob>(body, n);
      break;
    case 1:
      DecodeAndRun<otserve::PlanJob>(body, n);
      break;
    case 2:
      DecodeAndRun<otserve::DivergenceJob>(body, n);
      break;
    case 3:
      DecodeAndRun<otserve::BarycenterJob>(body, n);
      break;
    case 4:
      DecodeAndRun<otserve::DistanceBatchJob>(body, n);
      break;
    case 5:
      DecodeAndRun<otserve::GromovJob>(body, n);
      break;
    case 6:
      DecodeAndRun<otserve::MapJob>(body, n);
      break;
    case 7:
      DecodeAndRun<otserve::SemiDiscreteJob>(body, n);
      break;
  }
  return 0;
}
