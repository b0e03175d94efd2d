// otctl: command-line client for otserve. `otctl help` lists commands and
// flags.
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "client/npy.h"

namespace {

constexpr char kUsage[] = R"(otctl: command-line client for otserve.

Usage: otctl COMMAND [flags]

Commands:
  distance   optimal transport cost between two measures
  plan       cost, transport plan and dual potentials (gaussian: the Monge map)
  divergence Sinkhorn divergence or kernel MMD between two point clouds
  barycenter barycenter of --inputs: --kind gaussian (point clouds, Bures),
             fixed (histograms on --support or --cost M), grid (2-D images),
             free (point clouds, initial --support); --out writes the result
  map        barycentric projection of --source, or the entropic map of --query
  gromov     Gromov-Wasserstein between --source and --target (any dimensions)
  batch      distances from --source to each of --targets, in one call
  info       server version, limits and capabilities

Flags (files are .npy, or CSV / whitespace text; a 1-D array is a column):
  --server TARGET         server address (default $OTSERVE_ADDRESS or 127.0.0.1:50051):
                          host:port, dns:///name:port, or ip:port,ip:port,... (calls
                          are balanced round robin and retried on UNAVAILABLE)
  --wait-for-ready        wait for a reachable server instead of failing at once
  --token T               bearer token (default $OTSERVE_TOKEN)
  --tls                   TLS with the system's roots ($OTSERVE_TLS=1)
  --tls-ca FILE           PEM roots to trust; implies --tls ($OTSERVE_TLS_CA)
  --tls-cert FILE         client certificate for mutual TLS ($OTSERVE_TLS_CERT)
  --tls-key FILE          its private key ($OTSERVE_TLS_KEY)
  --source FILE           source points [n, d] (optional with an explicit cost)
  --target FILE           target points [m, d]
  --source-weights FILE   source weights [n] (default uniform)
  --target-weights FILE   target weights [m] (default uniform)
  --cost KIND|FILE        sqeuclidean (default, ||x-y||^2), euclidean, power
                          (||x-y||^p with --p), or a file with the [n, m] matrix
  --p P                   exponent for --cost power
  --method M              auto (default) | exact | sinkhorn | 1d | unbalanced |
                          sliced | max_sliced (or max-sliced) | gaussian
  --epsilon E             entropic regularisation (absolute unless --relative-epsilon)
  --relative-epsilon      read --epsilon relative to the mean cost
  --tolerance T           Sinkhorn marginal tolerance (default 1e-6)
  --max-iterations N      iteration / pivot cap
  --no-epsilon-scaling    disable Sinkhorn epsilon scaling
  --reg-m L               unbalanced: KL marginal penalty lambda (POT's reg_m)
  --num-directions L      sliced: random directions (default 50)
  --seed S                sliced: seed of the random directions
  --progress              distance, gromov: stream progress to stderr
  --kind K                divergence: sinkhorn (default) | sinkhorn-no-entropy |
                          energy | gaussian | laplacian
  --blur B                divergence: MMD kernel bandwidth
  --inputs F1,F2,...      barycenter: the input measures (see the command)
  --weights FILE          barycenter: weights of the inputs (default uniform)
  --support FILE          barycenter fixed: support points; free: initial support
  --debiased              barycenter fixed: the debiased barycenter
  --query FILE            map: points to move with the entropic map
  --times T1,T2,...       map: McCann's displacement interpolation at these
                          times in [0, 1] (prints the interpolants as JSON)
  --targets F1,F2,...     batch: target point clouds
  --loss L                gromov: square (default) | kl (needs --epsilon)
  --alpha A               gromov: fused GW weight of the structure term, in [0, 1]
  --feature-cost FILE     gromov: feature cost [n, m] for fused GW
  --source-costs FILE     gromov: intra-source costs [n, n] instead of --source
  --target-costs FILE     gromov: intra-target costs [m, m] instead of --target
                          (gromov: --epsilon selects entropic GW, else conditional
                          gradient; --out writes the plan)
  --timeout SECONDS       deadline for the call
  --json                  print one JSON object with the value and diagnostics
  --out FILE              plan / gromov: write the dense plan [n, m] as .npy
  --out-f FILE, --out-g FILE   plan: write the dual potentials as .npy

Output: the value on the first line, diagnostics on the second (or --json).
Exit status: 0 ok, 1 call failed, 2 usage error.
)";

int Usage(const std::string& error) {
  std::fprintf(stderr, "otctl: %s\n\n%s", error.c_str(), kUsage);
  return 2;
}

// Shortest round-trip decimal form of a double.
std::string Shortest(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "otctl: %s\n", status.ToString().c_str());
  return 1;
}

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void PrintResult(double value, double regularized,
                 const ot::v1::Diagnostics& d) {
  std::printf("%s\n", Shortest(value).c_str());
  std::printf(
      "method=%s converged=%s termination=%s iterations=%lld "
      "marginal_error=%.3g solve_seconds=%.6f",
      ot::v1::Method_Name(d.method()).c_str(), d.converged() ? "true" : "false",
      ot::v1::Termination_Name(d.termination()).c_str(),
      static_cast<long long>(d.iterations()), d.marginal_error(),
      d.solve_seconds());
  if (d.method() == ot::v1::METHOD_SINKHORN) {
    std::printf(" epsilon=%.6g regularized_value=%s", d.epsilon(),
                Shortest(regularized).c_str());
  }
  std::printf("\n");
  if (!d.converged()) {
    std::fprintf(stderr, "otctl: warning: result did not converge: %s\n",
                 d.message().c_str());
  }
}

// Reads the array file at `path`, if given, into the Array that `get()` returns
// (so absent flags create no sub-message): flattened to [size] when `vector`,
// else [rows, cols]. SetArray copies the bytes.
template <typename Get>
absl::Status ReadInto(const std::string* path, bool vector, Get get) {
  if (!path) return absl::OkStatus();
  auto a = otclient::ReadArray(*path);
  if (!a.ok()) return a.status();
  if (vector) {
    otclient::SetArray(a->data(), {a->size()}, get());
  } else {
    otclient::SetArray(a->data(), {a->rows(), a->cols()}, get());
  }
  return absl::OkStatus();
}

// Writes `array` to --out as .npy, or prints its first entries.
template <typename Flag>
int EmitArray(const ot::v1::Array& array, Flag flag) {
  // [d0, d1, ...] is shown and written as [d0, d1 * ...].
  const int64_t rows = array.shape_size() > 0 ? array.shape(0) : 0;
  int64_t cols = 1;
  for (int k = 1; k < array.shape_size(); ++k) cols *= array.shape(k);
  if (array.dtype() != ot::v1::DTYPE_FLOAT64 ||
      static_cast<int64_t>(array.data().size()) != rows * cols * 8) {
    return Fail(absl::InternalError("malformed array in the response"));
  }
  otclient::RowMatrix m(rows, cols);
  std::memcpy(m.data(), array.data().data(), array.data().size());
  if (const std::string* out = flag("out")) {
    if (auto s = otclient::WriteNpy(*out, m); !s.ok()) return Fail(s);
    return 0;
  }
  for (Eigen::Index i = 0; i < m.rows() && i < 20; ++i) {
    for (Eigen::Index j = 0; j < m.cols() && j < 20; ++j) {
      std::printf(j ? " %.9g" : "%.9g", m(i, j));
    }
    std::printf("\n");
  }
  return 0;
}

// `otctl barycenter --kind gaussian|fixed|grid|free --inputs F1,F2,...`.
template <typename Flag>
int Barycenter(otclient::Client* client, Flag flag, bool json) {
  const std::string kind = flag("kind") ? *flag("kind") : "gaussian";
  static const std::map<std::string, ot::v1::BarycenterKind> kKinds = {
      {"gaussian", ot::v1::BARYCENTER_KIND_GAUSSIAN},
      {"fixed", ot::v1::BARYCENTER_KIND_FIXED_SUPPORT},
      {"grid", ot::v1::BARYCENTER_KIND_GRID},
      {"free", ot::v1::BARYCENTER_KIND_FREE_SUPPORT}};
  if (!kKinds.count(kind)) {
    return Usage("barycenter --kind must be gaussian, fixed, grid or free");
  }
  const std::string* inputs = flag("inputs");
  if (!inputs) return Usage("barycenter needs --inputs F1,F2,...");
  ot::v1::BarycenterRequest req;
  req.set_kind(kKinds.at(kind));
  for (absl::string_view part : absl::StrSplit(*inputs, ',')) {
    const std::string path(part);
    ot::v1::Measure* measure = req.add_measures();
    // fixed: a histogram; grid: an image [h, w]; else a point cloud.
    absl::Status status =
        kind == "fixed"
            ? ReadInto(&path, true, [&] { return measure->mutable_weights(); })
        : kind == "grid"
            ? ReadInto(&path, false, [&] { return measure->mutable_weights(); })
            : ReadInto(&path, false, [&] { return measure->mutable_points(); });
    if (!status.ok()) return Fail(status);
  }
  for (absl::Status status :
       {ReadInto(flag("weights"), true, [&] { return req.mutable_weights(); }),
        ReadInto(flag("support"), false,
                 [&] { return req.mutable_support(); })}) {
    if (!status.ok()) return Fail(status);
  }
  if (const std::string* cost = flag("cost")) {
    if (*cost == "euclidean") {
      req.mutable_cost()->set_kind(ot::v1::COST_KIND_EUCLIDEAN);
    } else if (*cost != "sqeuclidean") {
      req.mutable_cost()->set_kind(ot::v1::COST_KIND_EXPLICIT);
      if (auto status =
              ReadInto(cost, false,
                       [&] { return req.mutable_cost()->mutable_matrix(); });
          !status.ok()) {
        return Fail(status);
      }
    }
  }
  double value;
  for (const std::string name : {"epsilon", "tolerance", "max-iterations"}) {
    const std::string* v = flag(name);
    if (!v) continue;
    if (!absl::SimpleAtod(*v, &value)) return Usage("bad --" + name);
    if (name == "epsilon") req.mutable_options()->set_epsilon(value);
    if (name == "tolerance") req.mutable_options()->set_tolerance(value);
    if (name == "max-iterations") {
      req.mutable_options()->set_max_iterations(static_cast<int64_t>(value));
    }
  }
  if (flag("relative-epsilon")) {
    req.mutable_options()->set_epsilon_scale(
        ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST);
  }
  req.set_debiased(flag("debiased") != nullptr);
  auto r = client->Barycenter(req);
  if (!r.ok()) return Fail(r.status());
  if (json) {
    std::printf("%s\n", Json(*r).c_str());
    return 0;
  }
  const auto& d = r->diagnostics();
  std::fprintf(
      stderr, "converged=%s iterations=%lld error=%.3g solve_seconds=%.6f\n",
      d.converged() ? "true" : "false", static_cast<long long>(d.iterations()),
      d.marginal_error(), d.solve_seconds());
  if (kind == "fixed" || kind == "grid") return EmitArray(r->weights(), flag);
  if (kind == "free") return EmitArray(r->points(), flag);
  auto mean = otclient::GetArray(r->gaussian().mean());
  auto cov = otclient::GetArray(r->gaussian().covariance());
  if (!mean.ok() || !cov.ok()) return Fail(absl::InternalError("bad response"));
  std::printf("mean =");
  for (Eigen::Index i = 0; i < mean->rows(); ++i)
    std::printf(" %.9g", (*mean)(i, 0));
  std::printf("\ncovariance =\n");
  for (Eigen::Index i = 0; i < cov->rows(); ++i) {
    for (Eigen::Index j = 0; j < cov->cols(); ++j) {
      std::printf(j ? " %.9g" : "%.9g", (*cov)(i, j));
    }
    std::printf("\n");
  }
  return 0;
}

// --progress: one line on stderr, rewritten at most five times a second.
std::function<void(const ot::v1::Progress&)> PrintProgress() {
  return [last = -1.0](const ot::v1::Progress& p) mutable {
    if (p.elapsed_seconds() - last < 0.2) return;
    last = p.elapsed_seconds();
    std::fprintf(stderr,
                 "\rotctl: iteration %lld  error %.3e  epsilon %.3g  %.1f s",
                 static_cast<long long>(p.iteration()), p.error(), p.epsilon(),
                 p.elapsed_seconds());
  };
}

// `otctl gromov`: Gromov-Wasserstein between two spaces.
template <typename Flag>
int Gromov(otclient::Client* client, Flag flag, bool json) {
  ot::v1::GromovRequest req;
  for (absl::Status status :
       {ReadInto(flag("source"), false,
                 [&] { return req.mutable_source()->mutable_points(); }),
        ReadInto(flag("target"), false,
                 [&] { return req.mutable_target()->mutable_points(); }),
        ReadInto(flag("source-weights"), true,
                 [&] { return req.mutable_source()->mutable_weights(); }),
        ReadInto(flag("target-weights"), true,
                 [&] { return req.mutable_target()->mutable_weights(); }),
        ReadInto(flag("source-costs"), false,
                 [&] { return req.mutable_source_costs(); }),
        ReadInto(flag("target-costs"), false,
                 [&] { return req.mutable_target_costs(); }),
        ReadInto(flag("feature-cost"), false,
                 [&] { return req.mutable_feature_cost(); })}) {
    if (!status.ok()) return Fail(status);
  }
  double value = 0;
  for (const std::string name :
       {"epsilon", "alpha", "tolerance", "max-iterations"}) {
    const std::string* v = flag(name);
    if (!v) continue;
    if (!absl::SimpleAtod(*v, &value)) return Usage("bad --" + name);
    if (name == "epsilon") req.mutable_options()->set_epsilon(value);
    if (name == "alpha") req.set_alpha(value);
    if (name == "tolerance") req.mutable_options()->set_tolerance(value);
    if (name == "max-iterations") {
      req.mutable_options()->set_max_iterations(static_cast<int64_t>(value));
    }
  }
  if (const std::string* loss = flag("loss")) {
    if (*loss == "kl") {
      req.set_loss(ot::v1::GROMOV_LOSS_KL);
    } else if (*loss != "square") {
      return Usage("--loss must be square or kl");
    }
  }
  if (const std::string* cost = flag("cost"); cost && *cost == "euclidean") {
    req.mutable_cost()->set_kind(ot::v1::COST_KIND_EUCLIDEAN);
  }
  req.set_return_plan(flag("out") != nullptr);
  auto r = flag("progress")
               ? client->GromovWassersteinStream(req, PrintProgress())
               : client->GromovWasserstein(req);
  if (flag("progress")) std::fprintf(stderr, "\n");
  if (!r.ok()) return Fail(r.status());
  if (const std::string* out = flag("out")) {
    auto plan = otclient::GetArray(r->plan());
    if (!plan.ok()) return Fail(plan.status());
    if (auto s = otclient::WriteNpy(*out, *plan); !s.ok()) return Fail(s);
  }
  if (json) {
    r->clear_plan();
    std::printf("%s\n", Json(*r).c_str());
  } else {
    PrintResult(r->value(), 0.0, r->diagnostics());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "help" ||
      std::string(argv[1]) == "--help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return Usage("unexpected argument " + arg);
    arg = arg.substr(2);
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (arg == "json" || arg == "relative-epsilon" ||
               arg == "progress" || arg == "debiased" ||
               arg == "no-epsilon-scaling" || arg == "tls" ||
               arg == "wait-for-ready") {
      flags[arg] =
          std::string(1, '1');  // (GCC 12 -Wrestrict false positive on = "1")
    } else if (i + 1 < argc) {
      flags[arg] = argv[++i];
    } else {
      return Usage("missing value for --" + arg);
    }
  }
  static const char* kKnown[] = {"server",
                                 "token",
                                 "tls",
                                 "tls-ca",
                                 "tls-cert",
                                 "tls-key",
                                 "wait-for-ready",
                                 "source",
                                 "target",
                                 "source-weights",
                                 "target-weights",
                                 "cost",
                                 "p",
                                 "method",
                                 "epsilon",
                                 "relative-epsilon",
                                 "tolerance",
                                 "max-iterations",
                                 "no-epsilon-scaling",
                                 "timeout",
                                 "json",
                                 "out",
                                 "out-f",
                                 "out-g",
                                 "reg-m",
                                 "num-directions",
                                 "seed",
                                 "progress",
                                 "kind",
                                 "blur",
                                 "inputs",
                                 "weights",
                                 "targets",
                                 "loss",
                                 "alpha",
                                 "feature-cost",
                                 "source-costs",
                                 "target-costs",
                                 "support",
                                 "debiased",
                                 "query",
                                 "times"};
  for (const auto& [k, v] : flags) {
    if (std::find(std::begin(kKnown), std::end(kKnown), k) ==
        std::end(kKnown)) {
      return Usage("unknown flag --" + k);
    }
  }
  auto flag = [&](const std::string& k) -> const std::string* {
    auto it = flags.find(k);
    return it == flags.end() ? nullptr : &it->second;
  };
  std::string server = "127.0.0.1:50051";
  if (const char* env = std::getenv("OTSERVE_ADDRESS")) server = env;
  if (flag("server")) server = *flag("server");
  otclient::ClientOptions options = otclient::ClientOptions::FromEnvironment();
  if (flag("token")) options.token = *flag("token");
  if (flag("tls")) options.tls = true;
  if (flag("wait-for-ready")) options.wait_for_ready = true;
  if (flag("tls-ca")) options.root_certificates = *flag("tls-ca");
  if (flag("tls-cert")) options.client_cert = *flag("tls-cert");
  if (flag("tls-key")) options.client_key = *flag("tls-key");
  if (flag("tls-ca") || flag("tls-cert")) options.tls = true;
  auto created = otclient::Client::Create(server, options);
  if (!created.ok()) {
    std::fprintf(stderr, "otctl: %s\n", created.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<otclient::Client> client = *std::move(created);
  const bool json = flag("json") != nullptr;

  if (command == "info") {
    auto info = client->ServerInfo();
    if (!info.ok()) return Fail(info.status());
    std::printf("%s\n", Json(*info).c_str());
    return 0;
  }
  if (command == "barycenter") return Barycenter(client.get(), flag, json);
  if (command == "gromov") return Gromov(client.get(), flag, json);
  if (command != "distance" && command != "plan" && command != "divergence" &&
      command != "batch" && command != "map") {
    return Usage("unknown command " + command);
  }

  otclient::Request req;
  auto read_into = [&](const char* name, auto* target,
                       bool vector) -> absl::Status {
    const std::string* path = flag(name);
    if (!path) return absl::OkStatus();
    auto a = otclient::ReadArray(*path);
    if (!a.ok()) return a.status();
    if constexpr (std::is_same_v<std::decay_t<decltype(*target)>,
                                 Eigen::VectorXd>) {
      if (a->cols() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " must be a vector"));
      }
      *target = a->col(0);
    } else {
      (void)vector;
      *target = *std::move(a);
    }
    return absl::OkStatus();
  };
  for (absl::Status s :
       {read_into("source", &req.source.points, false),
        read_into("target", &req.target.points, false),
        read_into("source-weights", &req.source.weights, true),
        read_into("target-weights", &req.target.weights, true)}) {
    if (!s.ok()) return Fail(s);
  }
  if (const std::string* cost = flag("cost")) {
    if (*cost == "sqeuclidean")
      req.cost = ot::v1::COST_KIND_SQEUCLIDEAN;
    else if (*cost == "euclidean")
      req.cost = ot::v1::COST_KIND_EUCLIDEAN;
    else if (*cost == "power")
      req.cost = ot::v1::COST_KIND_POWER;
    else {
      req.cost = ot::v1::COST_KIND_EXPLICIT;
      auto m = otclient::ReadArray(*cost);
      if (!m.ok()) return Fail(m.status());
      req.cost_matrix = *std::move(m);
    }
  }
  if (req.source.points.size() == 0 && req.cost != ot::v1::COST_KIND_EXPLICIT &&
      command != "batch") {
    return Usage(
        "--source and --target are required unless --cost is a matrix file");
  }
  auto number = [&](const char* name, double* out) {
    const std::string* v = flag(name);
    return !v || absl::SimpleAtod(*v, out);
  };
  double p = 2, eps = 0, tol = 0, max_it = 0, timeout = 0, reg_m = 0,
         num_dir = 0, seed = 0, blur = 0;
  if (!number("p", &p) || !number("epsilon", &eps) ||
      !number("tolerance", &tol) || !number("max-iterations", &max_it) ||
      !number("timeout", &timeout) || !number("reg-m", &reg_m) ||
      !number("num-directions", &num_dir) || !number("seed", &seed) ||
      !number("blur", &blur)) {
    return Usage("a numeric flag has a value that is not a number");
  }
  req.p = p;
  if (flag("epsilon")) req.epsilon = eps;
  if (flag("relative-epsilon"))
    req.epsilon_scale = ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST;
  if (flag("tolerance")) req.tolerance = tol;
  if (flag("max-iterations")) req.max_iterations = static_cast<int64_t>(max_it);
  if (flag("no-epsilon-scaling")) req.epsilon_scaling = false;
  if (flag("timeout")) req.timeout = absl::Seconds(timeout);
  if (flag("reg-m")) req.marginal_relaxation = reg_m;
  if (flag("num-directions"))
    req.num_directions = static_cast<int64_t>(num_dir);
  if (flag("seed")) req.seed = static_cast<uint64_t>(seed);
  if (const std::string* m = flag("method")) {
    auto method = otclient::MethodFromName(*m);
    if (!method) {
      return Usage(
          absl::StrCat("--method must be one of: ", otclient::MethodNames()));
    }
    req.method = *method;
  }

  if (command == "divergence") {
    ot::v1::DivergenceRequest dr;
    ot::v1::DistanceRequest base;
    otclient::Client::ToProto(req, &base);
    *dr.mutable_source() = base.source();
    *dr.mutable_target() = base.target();
    *dr.mutable_cost() = base.cost();
    *dr.mutable_options() = base.options();
    const std::string kind = flag("kind") ? *flag("kind") : "sinkhorn";
    static const std::map<std::string, ot::v1::DivergenceKind> kKinds = {
        {"sinkhorn", ot::v1::DIVERGENCE_KIND_SINKHORN},
        {"sinkhorn-no-entropy", ot::v1::DIVERGENCE_KIND_SINKHORN_NO_ENTROPY},
        {"energy", ot::v1::DIVERGENCE_KIND_ENERGY},
        {"gaussian", ot::v1::DIVERGENCE_KIND_GAUSSIAN_MMD},
        {"laplacian", ot::v1::DIVERGENCE_KIND_LAPLACIAN_MMD}};
    if (!kKinds.count(kind)) return Usage("unknown --kind " + kind);
    dr.set_kind(kKinds.at(kind));
    if (flag("blur")) dr.set_blur(blur);
    auto r = client->Divergence(dr, req.timeout);
    if (!r.ok()) return Fail(r.status());
    if (json) {
      std::printf("%s\n", Json(*r).c_str());
    } else {
      PrintResult(r->value(), 0.0, r->diagnostics());
    }
    return 0;
  }
  if (command == "map") {
    ot::v1::DistanceRequest base;
    otclient::Client::ToProto(req, &base);
    ot::v1::MapRequest mr;
    *mr.mutable_source() = base.source();
    *mr.mutable_target() = base.target();
    *mr.mutable_cost() = base.cost();
    mr.set_method(base.method());
    *mr.mutable_options() = base.options();
    otclient::RowMatrix query;
    if (const std::string* path = flag("query")) {
      auto q = otclient::ReadArray(*path);
      if (!q.ok()) return Fail(q.status());
      query = *std::move(q);
      otclient::SetArray(query.data(), {query.rows(), query.cols()},
                         mr.mutable_query_points());
    }
    if (const std::string* times = flag("times")) {
      for (absl::string_view part : absl::StrSplit(*times, ',')) {
        double t = 0.0;
        if (!absl::SimpleAtod(part, &t)) {
          return Fail(absl::InvalidArgumentError(
              absl::StrCat("--times: not a number: \"", part, "\"")));
        }
        mr.add_interpolation_times(t);
      }
    }
    auto r = client->Map(mr, req.timeout);
    if (!r.ok()) return Fail(r.status());
    if (json || r->interpolants_size() > 0) {
      std::printf("%s\n", Json(*r).c_str());
      return 0;
    }
    return EmitArray(r->mapped_points(), flag);
  }
  if (command == "batch") {
    const std::string* targets = flag("targets");
    if (!targets || req.source.points.size() == 0) {
      return Usage("batch needs --source and --targets F1,F2,...");
    }
    std::vector<otclient::Request> items;
    for (absl::string_view path : absl::StrSplit(*targets, ',')) {
      auto y = otclient::ReadArray(std::string(path));
      if (!y.ok()) return Fail(y.status());
      items.push_back(req);
      items.back().target.points = *std::move(y);
      items.back().target.weights.resize(0);
    }
    auto results = client->DistanceBatch(items, req.timeout);
    if (!results.ok()) return Fail(results.status());
    int failures = 0;
    for (const auto& r : *results) {
      if (r.ok()) {
        std::printf("%s\n", Shortest(r->value).c_str());
      } else {
        ++failures;
        std::printf("error: %s\n", r.status().ToString().c_str());
      }
    }
    return failures ? 1 : 0;
  }

  if (command == "distance") {
    auto r = flag("progress") ? client->DistanceStream(req, PrintProgress())
                              : client->Distance(req);
    if (flag("progress")) std::fprintf(stderr, "\n");
    if (!r.ok()) return Fail(r.status());
    if (json) {
      ot::v1::DistanceResponse out;
      out.set_value(r->value);
      out.set_regularized_value(r->regularized_value);
      *out.mutable_diagnostics() = r->diagnostics;
      std::printf("%s\n", Json(out).c_str());
    } else {
      PrintResult(r->value, r->regularized_value, r->diagnostics);
    }
    return 0;
  }
  auto r = client->Plan(req);
  if (!r.ok()) return Fail(r.status());
  if (const std::string* out = flag("out")) {
    if (auto s = otclient::WriteNpy(*out, r->plan); !s.ok()) return Fail(s);
  }
  if (const std::string* out = flag("out-f"); out && r->f.size() > 0) {
    if (auto s = otclient::WriteNpy(*out, r->f); !s.ok()) return Fail(s);
  }
  if (const std::string* out = flag("out-g"); out && r->g.size() > 0) {
    if (auto s = otclient::WriteNpy(*out, r->g); !s.ok()) return Fail(s);
  }
  if (r->map_matrix.size() > 0 && !json) {
    PrintResult(r->value, r->regularized_value, r->diagnostics);
    std::printf("linear map A =\n");
    for (Eigen::Index i = 0; i < r->map_matrix.rows(); ++i) {
      for (Eigen::Index j = 0; j < r->map_matrix.cols(); ++j) {
        std::printf(j ? " %.9g" : "%.9g", r->map_matrix(i, j));
      }
      std::printf("\n");
    }
    std::printf("offset b =");
    for (Eigen::Index i = 0; i < r->map_offset.size(); ++i) {
      std::printf(" %.9g", r->map_offset(i));
    }
    std::printf("\n");
    return 0;
  }
  if (json) {
    ot::v1::PlanResponse out;
    out.set_value(r->value);
    out.set_regularized_value(r->regularized_value);
    *out.mutable_diagnostics() = r->diagnostics;
    std::printf("%s\n", Json(out).c_str());
  } else {
    PrintResult(r->value, r->regularized_value, r->diagnostics);
    if (!flag("out")) {
      for (Eigen::Index i = 0; i < r->plan.rows() && i < 20; ++i) {
        for (Eigen::Index j = 0; j < r->plan.cols() && j < 20; ++j) {
          std::printf(j ? " %.6g" : "%.6g", r->plan(i, j));
        }
        std::printf("\n");
      }
    }
  }
  return 0;
}
