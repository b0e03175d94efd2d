// Decoding and validation of transport requests; encoding of results.
#include "server/convert.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace otserve {
namespace {

static_assert(std::endian::native == std::endian::little,
              "otserve reads little-endian arrays in place");

using otcore::CostKind;

// Weights: rank 1, length n, >= 0, not all zero.
void CheckWeights(const ArrayData& w, const std::string& field, int64_t n,
                  Violations* v) {
  if (!w.present()) return;
  if (w.rows() != n) {
    v->Add(field, absl::StrCat("has ", w.rows(),
                               " entries but the measure has ", n, " points"));
    return;
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (w.data()[i] < 0.0) {
      v->Add(field,
             absl::StrCat("entry ", i, " is negative (", w.data()[i], ")"));
      return;
    }
    total += w.data()[i];
  }
  if (total <= 0.0) v->Add(field, "all weights are zero");
}

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
      if (!(std::isfinite(cost.p()) && cost.p() >= 1.0)) {
        v->Add("cost.p", absl::StrCat("must be >= 1 for COST_KIND_POWER, got ",
                                      cost.p()));
      }
      break;
    case ot::v1::COST_KIND_EXPLICIT:
      spec->kind = CostKind::kExplicit;
      break;
    default:
      v->Add("cost.kind", absl::StrCat("unknown value ", cost.kind()));
  }
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
  if (absl::Status s = otcore::ValidateGaussian(out); !s.ok()) {
    v->Add(field + ".covariance", s.message());
    return std::nullopt;
  }
  return out;
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
      data_ = array.values().data();
    }
  } else if (array.dtype() == ot::v1::DTYPE_FLOAT64) {
    if (static_cast<int64_t>(array.data().size()) != count * 8) {
      v->Add(field + ".data",
             absl::StrCat("has ", array.data().size(),
                          " bytes, shape x float64 needs ", count * 8));
    } else if (reinterpret_cast<uintptr_t>(array.data().data()) %
                   alignof(double) ==
               0) {
      data_ = reinterpret_cast<const double*>(array.data().data());  // no copy
    } else {
      owned_.resize(count);
      std::memcpy(owned_.data(), array.data().data(), count * 8);
      data_ = owned_.data();
    }
  } else if (array.dtype() == ot::v1::DTYPE_FLOAT32) {
    if (static_cast<int64_t>(array.data().size()) != count * 4) {
      v->Add(field + ".data",
             absl::StrCat("has ", array.data().size(),
                          " bytes, shape x float32 needs ", count * 4));
    } else {
      owned_.resize(count);
      for (int64_t k = 0; k < count; ++k) {
        float f;
        std::memcpy(&f, array.data().data() + 4 * k, 4);
        owned_[k] = f;
      }
      data_ = owned_.data();
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

grpc::Status DecodeTransport(const TransportFields& f, const Limits& limits,
                             DecodedTransport* out) {
  Violations v;
  otcore::TransportProblem& p = out->problem;
  otcore::TransportOptions& o = out->options;

  DecodeCostSpec(f.cost, &v, &p.cost);
  const bool explicit_cost = p.cost.kind == CostKind::kExplicit;

  // Method and options.
  switch (f.method) {
    case ot::v1::METHOD_UNSPECIFIED:
    case ot::v1::METHOD_AUTO:
      o.method = otcore::Method::kAuto;
      break;
    case ot::v1::METHOD_EXACT:
      o.method = otcore::Method::kExact;
      break;
    case ot::v1::METHOD_SINKHORN:
      o.method = otcore::Method::kSinkhorn;
      break;
    case ot::v1::METHOD_ONE_D:
      o.method = otcore::Method::kOneD;
      break;
    case ot::v1::METHOD_UNBALANCED_SINKHORN:
      o.method = otcore::Method::kUnbalanced;
      break;
    case ot::v1::METHOD_SLICED:
      o.method = otcore::Method::kSliced;
      break;
    case ot::v1::METHOD_MAX_SLICED:
      o.method = otcore::Method::kMaxSliced;
      break;
    case ot::v1::METHOD_GAUSSIAN:
      o.method = otcore::Method::kGaussian;
      break;
    default:
      v.Add("method", absl::StrCat("unknown value ", f.method));
  }
  const bool gaussian = o.method == otcore::Method::kGaussian;

  // Arrays.
  bool shapes_ok = true;
  if (explicit_cost) {
    if (!f.cost.has_matrix()) {
      v.Add("cost.matrix", "required when cost.kind is COST_KIND_EXPLICIT");
      shapes_ok = false;
    } else {
      shapes_ok &=
          out->cost_matrix.Decode(f.cost.matrix(), "cost.matrix", 2, &v);
    }
  } else if (f.cost.has_matrix()) {
    v.Add("cost.matrix", "only allowed with COST_KIND_EXPLICIT");
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
      if (!gaussian) {
        v.Add(name + ".gaussian", "only allowed with METHOD_GAUSSIAN");
        shapes_ok = false;
        continue;
      }
      auto params =
          DecodeGaussian(side.measure.gaussian(), name + ".gaussian", &v);
      if (params) {
        *side.params = std::move(*params);
      } else {
        shapes_ok = false;
      }
      continue;
    }
    if (side.measure.has_points()) {
      shapes_ok &=
          side.points->Decode(side.measure.points(), name + ".points", 2, &v);
    } else if (!explicit_cost) {
      v.Add(name + ".points",
            "required unless cost.kind is COST_KIND_EXPLICIT");
      shapes_ok = false;
    }
    if (side.measure.has_weights()) {
      shapes_ok &= side.weights->Decode(side.measure.weights(),
                                        name + ".weights", 1, &v);
    }
  }
  if (f.options.has_directions()) {
    shapes_ok &= out->directions.Decode(f.options.directions(),
                                        "options.directions", 2, &v);
  }
  if (!shapes_ok) return v.ToStatus();
  if (gaussian && f.cost.kind() != ot::v1::COST_KIND_UNSPECIFIED &&
      f.cost.kind() != ot::v1::COST_KIND_SQEUCLIDEAN) {
    v.Add("cost.kind", "METHOD_GAUSSIAN needs the squared Euclidean cost");
  }
  if (p.source_gaussian && p.target_gaussian &&
      p.source_gaussian->mean.size() != p.target_gaussian->mean.size()) {
    v.Add("target.gaussian.mean", "dimension differs from the source's");
  }

  // Sizes: n and m from the matrix, else the points, else the weights.
  auto size_of = [&](const ArrayData& points, const ArrayData& weights,
                     int axis) {
    if (explicit_cost)
      return axis == 0 ? out->cost_matrix.rows() : out->cost_matrix.cols();
    return points.present() ? points.rows() : weights.rows();
  };
  const int64_t n = size_of(out->x, out->a, 0), m = size_of(out->y, out->b, 1);
  if (out->x.present() && out->x.rows() != n) {
    v.Add("source.points",
          absl::StrCat("has ", out->x.rows(), " points, cost.matrix has ", n,
                       " rows"));
  }
  if (out->y.present() && out->y.rows() != m) {
    v.Add("target.points",
          absl::StrCat("has ", out->y.rows(), " points, cost.matrix has ", m,
                       " columns"));
  }
  if (out->x.present() && out->y.present() && out->x.cols() != out->y.cols()) {
    v.Add(
        "target.points",
        absl::StrCat("dimension ", out->y.cols(),
                     " differs from source.points dimension ", out->x.cols()));
  }
  CheckWeights(out->a, "source.weights", n, &v);
  CheckWeights(out->b, "target.weights", m, &v);
  if (n > limits.max_points) {
    v.Add("source",
          absl::StrCat(n, " points exceed the server limit max_points = ",
                       limits.max_points));
  }
  if (m > limits.max_points) {
    v.Add("target",
          absl::StrCat(m, " points exceed the server limit max_points = ",
                       limits.max_points));
  }

  const auto& opt = f.options;
  if (opt.has_epsilon()) {
    if (!(std::isfinite(opt.epsilon()) && opt.epsilon() > 0)) {
      v.Add("options.epsilon",
            absl::StrCat("must be finite and > 0, got ", opt.epsilon()));
    }
    o.epsilon = opt.epsilon();
  }
  switch (opt.epsilon_scale()) {
    case ot::v1::EPSILON_SCALE_UNSPECIFIED:
    case ot::v1::EPSILON_SCALE_ABSOLUTE:
      o.epsilon_scale = otcore::EpsilonScale::kAbsolute;
      break;
    case ot::v1::EPSILON_SCALE_RELATIVE_TO_MEAN_COST:
      o.epsilon_scale = otcore::EpsilonScale::kRelativeToMeanCost;
      break;
    default:
      v.Add("options.epsilon_scale",
            absl::StrCat("unknown value ", opt.epsilon_scale()));
  }
  if (opt.has_tolerance()) {
    if (!(opt.tolerance() > 0 && opt.tolerance() < 1)) {
      v.Add("options.tolerance",
            absl::StrCat("must be in (0, 1), got ", opt.tolerance()));
    }
    o.tolerance = opt.tolerance();
  }
  if (opt.has_max_iterations()) {
    if (opt.max_iterations() <= 0 || opt.max_iterations() > 1'000'000'000'000) {
      v.Add("options.max_iterations",
            absl::StrCat("must be in [1, 1e12], got ", opt.max_iterations()));
    }
    o.max_iterations = opt.max_iterations();
  }
  if (opt.has_epsilon_scaling()) o.epsilon_scaling = opt.epsilon_scaling();
  if (opt.has_marginal_relaxation()) {
    if (!(opt.marginal_relaxation() > 0)) {
      v.Add("options.marginal_relaxation",
            absl::StrCat("must be > 0, got ", opt.marginal_relaxation()));
    }
    o.marginal_relaxation = opt.marginal_relaxation();
  } else if (o.method == otcore::Method::kUnbalanced) {
    v.Add("options.marginal_relaxation",
          "required for METHOD_UNBALANCED_SINKHORN");
  }
  if (opt.has_num_directions()) {
    if (opt.num_directions() < 1 || opt.num_directions() > 1'000'000) {
      v.Add("options.num_directions",
            absl::StrCat("must be in [1, 1e6], got ", opt.num_directions()));
    }
    o.num_directions = opt.num_directions();
  }
  if (opt.has_seed()) o.seed = opt.seed();
  if (out->directions.present() && out->x.present() &&
      out->directions.cols() != out->x.cols()) {
    v.Add("options.directions", absl::StrCat("must have ", out->x.cols(),
                                             " columns (the dimension)"));
  }
  if (!v.empty()) return v.ToStatus();

  // Views for the core.
  if (out->x.present()) p.x.emplace(out->x.matrix());
  if (out->y.present()) p.y.emplace(out->y.matrix());
  if (out->a.present()) p.a.emplace(out->a.vector());
  if (out->b.present()) p.b.emplace(out->b.vector());
  if (explicit_cost) p.cost_matrix.emplace(out->cost_matrix.matrix());
  if (out->directions.present()) p.directions.emplace(out->directions.matrix());
  const otcore::Method method =
      o.method == otcore::Method::kAuto ? otcore::ChooseMethod(p) : o.method;
  if (method == otcore::Method::kGaussian) return grpc::Status::OK;

  // Balanced masses (uniform weights have mass 1).
  const double mass_a = p.a ? p.a->sum() : 1.0, mass_b = p.b ? p.b->sum() : 1.0;
  if (method != otcore::Method::kUnbalanced &&
      std::abs(mass_a - mass_b) >
          otcore::kMassTolerance * std::max(mass_a, mass_b)) {
    v.Add("target.weights",
          absl::StrCat("total mass ", mass_b, " differs from source mass ",
                       mass_a, " (relative tolerance ", otcore::kMassTolerance,
                       ")"));
  }
  if (method == otcore::Method::kOneD &&
      (explicit_cost || out->x.cols() != 1 || out->y.cols() != 1)) {
    v.Add("method",
          "METHOD_ONE_D needs 1-D points (shape [n] or [n, 1]) and a "
          "non-explicit cost");
  }
  const bool dense = method == otcore::Method::kExact ||
                     method == otcore::Method::kSinkhorn ||
                     method == otcore::Method::kUnbalanced;
  if ((method == otcore::Method::kSliced ||
       method == otcore::Method::kMaxSliced) &&
      explicit_cost) {
    v.Add("method", "sliced methods need point clouds, not an explicit cost");
  }
  if (dense && n > limits.max_cost_entries / m) {
    v.Add("source", absl::StrCat("n * m = ", n, " * ", m,
                                 " exceeds the server limit "
                                 "max_cost_entries = ",
                                 limits.max_cost_entries, " for method ",
                                 otcore::MethodName(method)));
  }
  if (!v.empty()) return v.ToStatus();
  return grpc::Status::OK;
}

ot::v1::Method ToProto(otcore::Method method) {
  switch (method) {
    case otcore::Method::kAuto:
      return ot::v1::METHOD_AUTO;
    case otcore::Method::kExact:
      return ot::v1::METHOD_EXACT;
    case otcore::Method::kSinkhorn:
      return ot::v1::METHOD_SINKHORN;
    case otcore::Method::kOneD:
      return ot::v1::METHOD_ONE_D;
    case otcore::Method::kUnbalanced:
      return ot::v1::METHOD_UNBALANCED_SINKHORN;
    case otcore::Method::kSliced:
      return ot::v1::METHOD_SLICED;
    case otcore::Method::kMaxSliced:
      return ot::v1::METHOD_MAX_SLICED;
    case otcore::Method::kGaussian:
      return ot::v1::METHOD_GAUSSIAN;
  }
  return ot::v1::METHOD_UNSPECIFIED;
}

void FillDiagnostics(const otcore::Summary& s, absl::Duration queue_wait,
                     int64_t n, int64_t m, ot::v1::Diagnostics* out) {
  out->set_method(ToProto(s.method));
  out->set_iterations(s.iterations);
  out->set_marginal_error(s.marginal_error);
  out->set_converged(s.converged);
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
