// Writes the fuzzer's seed corpus: one valid request of every RPC (and of each
// barycenter kind and method), as "<rpc byte><serialized request>" files.
// Usage: fuzz_seeds OUT_DIR
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ot/v1/service.pb.h"

namespace {

int count = 0;

template <typename Message>
void Write(const std::string& dir, char rpc, const std::string& text) {
  Message m;
  if (!google::protobuf::TextFormat::ParseFromString(text, &m)) {
    std::fprintf(stderr, "bad seed: %s\n", text.c_str());
    std::exit(1);
  }
  std::ofstream out(dir + "/seed" + std::to_string(count++), std::ios::binary);
  out << rpc << m.SerializeAsString();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string clouds =
      "source { points { shape: 3 shape: 2 values: 0 values: 1 values: 2 "
      "values: 3 values: 4 values: 5 } weights { shape: 3 values: 0.2 values: "
      "0.3 values: 0.5 } } target { points { shape: 2 shape: 2 values: 1 "
      "values: 1 values: 0 values: 2 } } ";
  const std::string explicit_cost =
      "cost { kind: COST_KIND_EXPLICIT matrix { shape: 2 shape: 2 values: 0 "
      "values: 1 values: 1 values: 0 } } source { weights { shape: 2 values: "
      "0.5 values: 0.5 } } target { weights { shape: 2 values: 0.2 values: 0.8 "
      "} } ";
  for (const char* method :
       {"METHOD_AUTO", "METHOD_EXACT", "METHOD_SINKHORN", "METHOD_SLICED",
        "METHOD_MAX_SLICED", "METHOD_GAUSSIAN"}) {
    Write<ot::v1::DistanceRequest>(dir, 0,
                                   clouds + "method: " + std::string(method));
  }
  Write<ot::v1::DistanceRequest>(
      dir, 0,
      clouds +
          "method: METHOD_UNBALANCED_SINKHORN options { "
          "marginal_relaxation: 1 epsilon: 0.5 }");
  Write<ot::v1::DistanceRequest>(
      dir, 0,
      "source { points { shape: 3 values: 0 values: 1 values: 2 } } target { "
      "points { shape: 2 values: 1 values: 3 } } method: METHOD_ONE_D");
  Write<ot::v1::PlanRequest>(dir, 1,
                             explicit_cost + "format: PLAN_FORMAT_DENSE");
  Write<ot::v1::PlanRequest>(dir, 1, clouds + "method: METHOD_SINKHORN");
  Write<ot::v1::DivergenceRequest>(dir, 2,
                                   clouds + "kind: DIVERGENCE_KIND_SINKHORN");
  Write<ot::v1::DivergenceRequest>(
      dir, 2, clouds + "kind: DIVERGENCE_KIND_GAUSSIAN_MMD blur: 0.5");
  Write<ot::v1::BarycenterRequest>(
      dir, 3,
      "kind: BARYCENTER_KIND_GAUSSIAN measures { gaussian { mean { shape: 1 "
      "values: 0 } covariance { shape: 1 shape: 1 values: 1 } } } measures { "
      "gaussian { mean { shape: 1 values: 2 } covariance { shape: 1 shape: 1 "
      "values: 4 } } }");
  Write<ot::v1::BarycenterRequest>(
      dir, 3,
      "kind: BARYCENTER_KIND_FIXED_SUPPORT support { shape: 3 shape: 1 values: "
      "0 values: 1 values: 2 } measures { weights { shape: 3 values: 1 values: "
      "0 values: 0 } } measures { weights { shape: 3 values: 0 values: 0 "
      "values: 1 } } options { epsilon: 0.1 }");
  Write<ot::v1::BarycenterRequest>(
      dir, 3,
      "kind: BARYCENTER_KIND_GRID measures { weights { shape: 2 shape: 2 "
      "values: 1 values: 0 values: 0 values: 0 } } measures { weights { shape: "
      "2 shape: 2 values: 0 values: 0 values: 0 values: 1 } } options { "
      "epsilon: 0.1 }");
  Write<ot::v1::BarycenterRequest>(
      dir, 3,
      "kind: BARYCENTER_KIND_FREE_SUPPORT support { shape: 2 shape: 1 values: "
      "0 values: 1 } measures { points { shape: 2 shape: 1 values: 0 values: "
      "2 } } measures { points { shape: 2 shape: 1 values: 1 values: 3 } }");
  Write<ot::v1::DistanceBatchRequest>(
      dir, 4, "items { " + clouds + "} items { " + explicit_cost + "}");
  Write<ot::v1::GromovRequest>(dir, 5, clouds + "return_plan: true");
  Write<ot::v1::GromovRequest>(
      dir, 5, clouds + "options { epsilon: 0.5 } return_plan: true");
  Write<ot::v1::MapRequest>(dir, 6, clouds);
  Write<ot::v1::MapRequest>(
      dir, 6,
      clouds + "query_points { shape: 1 shape: 2 values: 0.5 values: 0.5 }");
  Write<ot::v1::MapRequest>(dir, 6,
                            clouds +
                                "interpolation_times: 0.5 "
                                "options { return_gradients: true }");
  Write<ot::v1::SemiDiscreteRequest>(
      dir, 7,
      "source { box { low { shape: 1 values: 0 } high { shape: 1 values: 1 } "
      "} } target { points { shape: 2 shape: 1 values: 0.2 values: 0.7 } } "
      "iterations: 50 evaluation_samples: 100 query_points { shape: 1 shape: "
      "1 values: 0.1 }");
  std::printf("fuzz_seeds: %d seeds in %s\n", count, dir.c_str());
  return 0;
}
