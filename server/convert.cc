// Decoding and validation of transport requests; encoding of results.
#include "server/convert.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "server/methods.h"

namespace otserve {
namespace {

static_assert(std::endian::native == std::endian::little,
              "otserve reads little-endian arrays in place");

using otcore::CostKind;

}  // namespace

void DecodeCostSpec(const ot::v1::Cost& cost, Violations* v,
                    otcore::CostSpec* spec) {
  switch (cost.kind()) {
    case ot::v1::COST_KIND_UNSPECIFIED:
    case ot::v1::COST_KIND_SQEUCLIDEAN:
      spec->kind = CostKind::kSqEuclidean;
      break;
    case ot::v1::COST_KIND_EUCLIDEAN:
      spec->kind = CostKind::kEuclidean;
      break;
    case ot::v1::COST_KIND_POWER:
      spec->kind = CostKind::kPower;
      spec->p = cost.p();
      break;
    case ot::v1::COST_KIND_EXPLICIT:
      spec->kind = CostKind::kExplicit;
      break;
    default:
      v->Add("cost.kind", absl::StrCat("unknown value ", cost.kind()));
      return;
  }
  v->AddStatus(spec->Validate());
}

std::optional<otcore::Gaussian> DecodeGaussian(const ot::v1::GaussianParams& g,
                                               const std::string& field,
                                               Violations* v) {
  ArrayData mean, cov;
  if (!mean.Decode(g.mean(), field + ".mean", 1, v) ||
      !cov.Decode(g.covariance(), field + ".covariance", 2, v)) {
    return std::nullopt;
  }
  otcore::Gaussian out;
  out.mean = mean.vector();
  out.cov = cov.matrix();
  // The O(d^3) PSD check runs in the solver, on a worker.
  if (absl::Status s = otcore::ValidateGaussian(out, /*check_psd=*/false);
      !s.ok()) {
    v->Add(field + ".covariance", s.message());
    return std::nullopt;
  }
  return out;
}

void ArrayData::ViewOrCopy(const char* bytes, int64_t count) {
  // Vectorised reductions peel a scalar head up to the first packet-aligned
  // element, so their rounding depends on the address: identical requests
  // only give identical bits when every array starts at the same alignment.
  if (reinterpret_cast<uintptr_t>(bytes) % kArrayAlignment == 0) {
    data_ = reinterpret_cast<const double*>(bytes);  // no copy
    return;
  }
  std::memcpy(Own(count), bytes, count * sizeof(double));
}

double* ArrayData::Own(int64_t count) {
  const size_t bytes =
      (static_cast<size_t>(count) * sizeof(double) + kArrayAlignment - 1) /
      kArrayAlignment * kArrayAlignment;
  owned_.reset(
      static_cast<double*>(std::aligned_alloc(kArrayAlignment, bytes)));
  if (!owned_) throw std::bad_alloc();
  owned_count_ = count;
  data_ = owned_.get();
  return owned_.get();
}

bool ArrayData::Decode(const ot::v1::Array& array, const std::string& field,
                       int rank, Violations* v) {
  present_ = true;
  const size_t before = v->size();
  if (array.shape_size() != rank && !(rank == 2 && array.shape_size() == 1)) {
    v->Add(field + ".shape",
           absl::StrCat("must have ", rank, " dimension(s), has ",
                        array.shape_size()));
    return false;
  }
  int64_t count = 1;
  for (int64_t s : array.shape()) {
    if (s <= 0) {
      v->Add(field + ".shape",
             "dimensions must be positive (empty measures are not allowed)");
      return false;
    }
    if (s > (int64_t{1} << 40) || count > (int64_t{1} << 40) / s) {
      v->Add(field + ".shape", "array is absurdly large");
      return false;
    }
    count *= s;
  }
  shape_.assign(array.shape().begin(), array.shape().end());
  const bool has_data = !array.data().empty();
  const bool has_values = array.values_size() > 0;
  if (has_data == has_values) {
    v->Add(field, "set exactly one of data or values");
    return false;
  }
  if (has_values) {
    if (array.dtype() != ot::v1::DTYPE_FLOAT64 &&
        array.dtype() != ot::v1::DTYPE_UNSPECIFIED) {
      v->Add(field + ".dtype",
             "values carries float64; dtype must be DTYPE_FLOAT64");
    } else if (array.values_size() != count) {
      v->Add(field + ".values", absl::StrCat("has ", array.values_size(),
                                             " elements, shape needs ", count));
    } else {
      ViewOrCopy(reinterpret_cast<const char*>(array.values().data()), count);
    }
  } else if (array.dtype() == ot::v1::DTYPE_FLOAT64) {
    if (static_cast<int64_t>(array.data().size()) != count * 8) {
      v->Add(field + ".data",
             absl::StrCat("has ", array.data().size(),
                          " bytes, shape x float64 needs ", count * 8));
    } else {
      ViewOrCopy(array.data().data(), count);
    }
  } else if (array.dtype() == ot::v1::DTYPE_FLOAT32) {
    if (static_cast<int64_t>(array.data().size()) != count * 4) {
      v->Add(field + ".data",
             absl::StrCat("has ", array.data().size(),
                          " bytes, shape x float32 needs ", count * 4));
    } else {
      double* out = Own(count);
      for (int64_t k = 0; k < count; ++k) {
        float f;
        std::memcpy(&f, array.data().data() + 4 * k, 4);
        out[k] = f;
      }
    }
  } else {
    v->Add(field + ".dtype", "must be DTYPE_FLOAT64 or DTYPE_FLOAT32");
  }
  if (v->size() != before) return false;
  for (int64_t k = 0; k < count; ++k) {
    if (!std::isfinite(data_[k])) {
      v->Add(field,
             absl::StrCat("element ", k, " is not finite (", data_[k], ")"));
      return false;
    }
  }
  return true;
}

absl::Status DecodeTransport(const TransportFields& f, const Limits& limits,
                             bool compute_plan, DecodedTransport* out) {
  Violations v;
  otcore::TransportProblem& p = out->problem;
  otcore::TransportOptions& o = out->options;
  o.compute_plan = compute_plan;

  DecodeCostSpec(f.cost, &v, &p.cost);
  if (auto method = FromProto(f.method)) {
    o.method = *method;
  } else {
    v.Add("method", absl::StrCat("unknown value ", f.method));
  }

  // Arrays: wire format, shapes and finiteness. How they fit together is the
  // core's to check (ValidateTransport below).
  bool arrays_ok = true;
  if (f.cost.has_matrix()) {
    arrays_ok &= out->cost_matrix.Decode(f.cost.matrix(), "cost.matrix", 2, &v);
  }
  struct Side {
    const ot::v1::Measure& measure;
    const char* name;
    ArrayData* points;
    ArrayData* weights;
    std::optional<otcore::Gaussian>* params;
  };
  for (const Side& side :
       {Side{f.source, "source", &out->x, &out->a, &p.source_gaussian},
        Side{f.target, "target", &out->y, &out->b, &p.target_gaussian}}) {
    const std::string name = side.name;
    if (side.measure.has_gaussian()) {
      // Bounded before the O(d^3) PSD check.
      const auto& mean = side.measure.gaussian().mean();
      const size_t before = v.size();
      CheckMaxDenseDimension(mean.shape_size() == 1 ? mean.shape(0) : 0,
                             name + ".gaussian.mean", limits, &v);
      if (v.size() != before) {
        arrays_ok = false;
        continue;
      }
      auto params =
          DecodeGaussian(side.measure.gaussian(), name + ".gaussian", &v);
      arrays_ok &= params.has_value();
      if (params) *side.params = std::move(*params);
    }
    if (side.measure.has_points()) {
      arrays_ok &=
          side.points->Decode(side.measure.points(), name + ".points", 2, &v);
    }
    if (side.measure.has_weights()) {
      arrays_ok &= side.weights->Decode(side.measure.weights(),
                                        name + ".weights", 1, &v);
    }
  }
  if (f.options.has_directions()) {
    arrays_ok &= out->directions.Decode(f.options.directions(),
                                        "options.directions", 2, &v);
  }

  const auto& opt = f.options;
  if (opt.has_epsilon()) o.epsilon.value = opt.epsilon();
  switch (opt.epsilon_scale()) {
    case ot::v1::EPSILON_SCALE_UNSPECIFIED:
    case ot::v1::EPSILON_SCALE_ABSOLUTE:
      o.epsilon.scale = otcore::EpsilonScale::kAbsolute;
      break;
    case ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST:
      o.epsilon.scale = otcore::EpsilonScale::kRelativeToMeanCost;
      break;
    default:
      v.Add("options.epsilon_scale",
            absl::StrCat("unknown value ", opt.epsilon_scale()));
  }
  if (opt.has_tolerance()) o.tolerance = opt.tolerance();
  if (opt.has_max_iterations()) o.max_iterations = opt.max_iterations();
  if (opt.has_epsilon_scaling()) o.epsilon_scaling = opt.epsilon_scaling();
  if (opt.has_marginal_relaxation()) {
    o.marginal_relaxation = opt.marginal_relaxation();
  }
  if (opt.has_num_directions()) o.num_directions = opt.num_directions();
  if (opt.has_seed()) o.seed = opt.seed();
  o.compute_gradients = opt.return_gradients();
  if (!arrays_ok || !v.empty()) return v.ToStatus();

  // Views for the core.
  if (out->x.present()) p.x.emplace(out->x.matrix());
  if (out->y.present()) p.y.emplace(out->y.matrix());
  if (out->a.present()) p.a.emplace(out->a.vector());
  if (out->b.present()) p.b.emplace(out->b.vector());
  if (out->cost_matrix.present()) {
    p.cost_matrix.emplace(out->cost_matrix.matrix());
  }
  if (out->directions.present()) p.directions.emplace(out->directions.matrix());

  // The server's size limits, every core check, and the memory the method
  // (AUTO as the core resolves it) will hold, as the core counts it.
  const int64_t n = p.n(), m = p.m();
  CheckMaxPoints(n, "source", limits, &v);
  CheckMaxPoints(m, "target", limits, &v);
  const absl::Status valid = otcore::ValidateTransport(p, o);
  // A method not built for the request (e.g. gradients) stays UNIMPLEMENTED.
  if (valid.code() == absl::StatusCode::kUnimplemented && v.empty()) {
    return valid;
  }
  v.AddStatus(valid);
  if (!v.empty()) return v.ToStatus();
  const otcore::Footprint footprint = otcore::TransportFootprint(p, o);
  if (footprint.entries > limits.max_cost_entries) {
    v.Add(footprint.field,
          absl::StrCat("the solve would hold ", footprint.entries,
                       " doubles (n * m = ", n, " * ", m, ") for method ",
                       otcore::MethodName(otcore::ResolveMethod(p, o)),
                       ", over the server limit max_cost_entries = ",
                       limits.max_cost_entries));
  }
  CheckMaxDenseDimension(footprint.dense_dimension, footprint.field, limits,
                         &v);
  if (!v.empty()) return v.ToStatus();
  out->working_bytes = 8 * (footprint.entries + footprint.cache_entries);
  for (const ArrayData* a : {&out->x, &out->y, &out->a, &out->b,
                             &out->cost_matrix, &out->directions}) {
    out->working_bytes += a->owned_bytes();
  }
  return absl::OkStatus();
}

void CheckMaxPoints(int64_t count, absl::string_view field,
                    const Limits& limits, Violations* v) {
  if (count > limits.max_points) {
    v->Add(field,
           absl::StrCat(count, " points exceed the server limit max_points = ",
                        limits.max_points));
  }
}

void CheckMaxDenseDimension(int64_t d, absl::string_view field,
                            const Limits& limits, Violations* v) {
  if (d > limits.max_dense_dimension) {
    v->Add(field, absl::StrCat("dimension ", d,
                               " exceeds the server limit "
                               "max_dense_dimension = ",
                               limits.max_dense_dimension));
  }
}

absl::Status CheckResponseBytes(int64_t bytes, absl::string_view what,
                                int64_t max_bytes) {
  if (bytes <= max_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the response would carry ", what, " of ", bytes,
      " bytes, over the server limit max_message_mb = ", max_bytes >> 20,
      "; ask for less (e.g. a sparse plan, "
      "fewer points)"));
}

void CheckMaxCostEntries(int64_t entries, absl::string_view field,
                         const Limits& limits, Violations* v) {
  if (entries > limits.max_cost_entries) {
    v->Add(field, absl::StrCat(entries,
                               " cost entries exceed the server limit "
                               "max_cost_entries = ",
                               limits.max_cost_entries));
  }
}

void FillDiagnostics(const otcore::Summary& s, absl::Duration queue_wait,
                     int64_t n, int64_t m, ot::v1::Diagnostics* out) {
  out->set_method(ToProto(s.method));
  out->set_iterations(s.iterations);
  out->set_marginal_error(s.marginal_error);
  out->set_converged(s.converged());
  switch (s.termination) {
    case otcore::Termination::kConverged:
      out->set_termination(ot::v1::TERMINATION_CONVERGED);
      break;
    case otcore::Termination::kIterationLimit:
      out->set_termination(ot::v1::TERMINATION_ITERATION_LIMIT);
      break;
    case otcore::Termination::kNumericalError:
      out->set_termination(ot::v1::TERMINATION_NUMERICAL_ERROR);
      break;
  }
  out->set_solve_seconds(s.seconds);
  out->set_queue_seconds(absl::ToDoubleSeconds(queue_wait));
  out->set_epsilon(s.epsilon);
  out->set_message(s.message);
  out->set_n(n);
  out->set_m(m);
  out->set_stopping_rule(s.stopping_rule.empty() ? "marginal_error"
                                                 : s.stopping_rule);
  out->set_stopping_value(s.stopping_rule.empty() ? s.marginal_error
                                                  : s.stopping_value);
}

void FillArray(const double* data, std::vector<int64_t> shape,
               ot::v1::Array* out) {
  int64_t count = 1;
  for (int64_t s : shape) {
    count *= s;
    out->add_shape(s);
  }
  out->set_dtype(ot::v1::DTYPE_FLOAT64);
  out->set_data(reinterpret_cast<const char*>(data), count * sizeof(double));
}

}  // namespace otserve
