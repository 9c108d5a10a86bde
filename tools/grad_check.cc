#include "tools/grad_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/interpreter.h"
#include "graph/ops/random.h"
#include "passes/autodiff.h"
#include "passes/forward_mode.h"

namespace adc {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Adds an output "gradcheck_projection" (made unique) = sum_k sum(values_k *
// r_k), with fixed random constants r_k.
absl::StatusOr<std::string> AddProjection(Graph* graph,
                                          const std::vector<ValueId>& values,
                                          uint64_t seed) {
  GraphBuilder b(graph);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(kRandomCotangentLo,
                                              kRandomCotangentHi);
  Value total;
  for (ValueId id : values) {
    Value v = b.Wrap(id);
    std::vector<double> r(v.type().num_elements());
    for (double& x : r) x = dist(rng);
    Value term = Sum(v * Constant(b, Tensor::FromDoubles(v.type(), r)));
    total = total.valid() ? total + term : term;
  }
  if (!b.ok()) return b.status();
  // Unique among outputs as well as values.
  std::string name = "gradcheck_projection";
  for (int k = 1; graph->Find(name) || graph->FindOutput(name); ++k) {
    name = absl::StrCat("gradcheck_projection_", k);
  }
  graph->AddOutput(name, total.id());
  return name;
}

absl::StatusOr<std::vector<std::string>> ResolveWrt(
    const Graph& graph, std::vector<std::string> wrt) {
  if (wrt.empty()) {
    for (ValueId id : graph.inputs()) {
      if (IsFloat(graph.type(id).dtype)) wrt.push_back(graph.node(id).name);
    }
    for (ValueId id : graph.parameters()) {
      if (IsFloat(graph.type(id).dtype)) wrt.push_back(graph.node(id).name);
    }
  }
  for (const std::string& name : wrt) {
    std::optional<ValueId> id = graph.Find(name);
    if (!id || (graph.node(*id).op != OpKind::kInput &&
                graph.node(*id).op != OpKind::kParameter)) {
      return absl::InvalidArgumentError(
          absl::StrCat("wrt '", name, "' is not an input or parameter"));
    }
    const TensorType& type = graph.type(*id);
    if (!IsFloat(type.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("wrt '", name, "' is ", type.ToString(),
                       ": only floating-point values have gradients"));
    }
    if (type.dtype != DType::kF64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "wrt '", name, "' must be f64 for finite differences, not ",
          type.ToString(), " (PromoteToF64 makes a graph f64)"));
    }
  }
  return wrt;
}

// The full feed map: given feeds plus stored parameter values.
std::map<std::string, Tensor> AllFeeds(
    const Graph& graph, const std::map<std::string, Tensor>& feeds) {
  std::map<std::string, Tensor> all = feeds;
  for (ValueId id : graph.parameters()) {
    const Node& node = graph.node(id);
    if (!all.count(node.name)) all[node.name] = node.attrs.GetTensor("value");
  }
  return all;
}

absl::Status RequireFinite(const Tensor& t, const std::string& name,
                           absl::string_view what) {
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (!std::isfinite(t.GetDouble(i))) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " '", name, "' is not finite at the point checked (",
          ElementName(name, t.dims(), i), " = ", t.GetDouble(i),
          "): choose inputs where it is defined"));
    }
  }
  return absl::OkStatus();
}

double Dot(const Tensor& a, const Tensor& b) {
  double sum = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    sum += a.GetDouble(i) * b.GetDouble(i);
  }
  return sum;
}

// A graph with the gradient of f = <of, v> appended, and what it takes to
// evaluate it.
struct Differentiated {
  Graph graph;
  std::string of;
  Tensor cotangent;                     // v
  std::vector<std::string> grads;       // Gradient outputs, in wrt order.
  std::map<std::string, Tensor> feeds;  // Every input, v's included.
};

// Appends the gradient of <of, v> with respect to `wrt`, v chosen by
// `cotangent` (GradCheckOptions::cotangent).
absl::StatusOr<Differentiated> Differentiate(
    const Graph& graph, const std::string& of,
    std::map<std::string, Tensor> feeds, const std::vector<std::string>& wrt,
    const std::string& cotangent, uint64_t seed) {
  std::optional<ValueId> of_id = graph.FindOutputOrValue(of);
  if (!of_id) {
    return absl::NotFoundError(
        absl::StrCat("of: no output or value named '", of, "'"));
  }
  const TensorType type = graph.type(*of_id);
  Differentiated d{graph, of, Tensor::Filled(type, 1), {}, std::move(feeds)};
  GradOptions grad;
  grad.of = of;
  grad.wrt = wrt;
  if (cotangent == "ones") {
    grad.seed = "ones";
  } else if (!cotangent.empty() || type.num_elements() != 1) {
    // v^T J by a seed input holding v.
    grad.seed =
        cotangent.empty() ? graph.UniqueName("gradcheck_cotangent") : cotangent;
    auto it = d.feeds.find(grad.seed);
    if (it == d.feeds.end()) {
      d.cotangent =
          RandomTensor(type, seed, kRandomCotangentLo, kRandomCotangentHi);
      d.feeds[grad.seed] = d.cotangent;
    } else if (it->second.type() != type) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cotangent '", grad.seed, "' is fed ", it->second.type().ToString(),
          " but '", of, "' is ", type.ToString()));
    } else {
      d.cotangent = it->second;
    }
  }
  ADC_ASSIGN_OR_RETURN(d.grads, AddGradients(&d.graph, grad));
  return d;
}

double RelError(double abs_error, double numeric) {
  if (numeric != 0) return abs_error / std::abs(numeric);
  return abs_error == 0 ? 0 : kInf;
}

// The one finite-difference loop: each element of each wrt moved by +-eps,
// f = <of, v> evaluated on each side, compared with the gradients.
absl::StatusOr<std::vector<WrtCheck>> Compare(
    const Differentiated& d, const std::vector<std::string>& wrt,
    const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(auto analytic, Interpret(d.graph, d.feeds));
  // f on a copy whose only output is `of` (the interpreter evaluates only
  // what outputs need).
  Graph f_graph = d.graph;
  f_graph.mutable_outputs() = {{"of", *d.graph.FindOutputOrValue(d.of)}};
  std::map<std::string, Tensor> feeds = d.feeds;
  auto f = [&]() -> absl::StatusOr<double> {
    ADC_ASSIGN_OR_RETURN(auto out, Interpret(f_graph, feeds));
    return Dot(out.at("of"), d.cotangent);
  };
  {
    ADC_ASSIGN_OR_RETURN(auto out, Interpret(f_graph, feeds));
    ADC_RETURN_IF_ERROR(RequireFinite(out.at("of"), d.of, "value"));
  }

  std::vector<WrtCheck> checks;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& grad = analytic.at(d.grads[k]);
    Tensor& x = feeds.at(wrt[k]);
    WrtCheck c;
    c.wrt = wrt[k];
    c.type = x.type();
    double worst_ratio = -1;
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const double x0 = x.doubles()[i];
      x.mutable_doubles()[i] = x0 + options.eps;
      ADC_ASSIGN_OR_RETURN(const double f_plus, f());
      x.mutable_doubles()[i] = x0 - options.eps;
      ADC_ASSIGN_OR_RETURN(const double f_minus, f());
      x.mutable_doubles()[i] = x0;
      const double numeric = (f_plus - f_minus) / (2 * options.eps);
      const double got = grad.GetDouble(i);
      const double abs_error = std::abs(got - numeric);
      const double tol = options.atol + options.rtol * std::abs(numeric);
      const bool ok = abs_error <= tol;  // False for NaN.
      // How far along the tolerance the error is (> 1: outside).
      double ratio = kInf;
      if (ok) {
        ratio = tol > 0 ? abs_error / tol : 0;
      } else if (tol > 0 && !std::isnan(abs_error)) {
        ratio = abs_error / tol;
      }
      if (!ok) ++c.mismatches;
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        c.worst = i;
        c.analytic = got;
        c.numeric = numeric;
        c.abs_error = abs_error;
        c.rel_error = RelError(abs_error, numeric);
      }
    }
    checks.push_back(std::move(c));
  }
  return checks;
}

}  // namespace

bool GradCheckReport::ok() const { return mismatches() == 0; }

int64_t GradCheckReport::mismatches() const {
  int64_t n = 0;
  for (const WrtCheck& c : wrt) n += c.mismatches;
  return n;
}

int64_t GradCheckReport::num_elements() const {
  int64_t n = 0;
  for (const WrtCheck& c : wrt) n += c.type.num_elements();
  return n;
}

absl::StatusOr<GradCheckReport> CheckGradients(
    const Graph& graph, const std::string& of,
    const std::map<std::string, Tensor>& feeds, std::vector<std::string> wrt,
    const GradCheckOptions& options, int order) {
  if (order != 1 && order != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("order must be 1 or 2, not ", order));
  }
  ADC_ASSIGN_OR_RETURN(wrt, ResolveWrt(graph, std::move(wrt)));
  GradCheckReport report{of, order, options, {}};
  ADC_ASSIGN_OR_RETURN(Differentiated first,
                       Differentiate(graph, of, AllFeeds(graph, feeds), wrt,
                                     options.cotangent, options.seed));
  if (order == 1) {
    ADC_ASSIGN_OR_RETURN(report.wrt, Compare(first, wrt, options));
    return report;
  }
  // Order 2: the gradient of h = sum_k <g_k, u_k> by autodiff against finite
  // differences of the first-order gradients g_k.
  std::vector<ValueId> grads;
  {
    ADC_ASSIGN_OR_RETURN(auto values, Interpret(first.graph, first.feeds));
    for (const std::string& name : first.grads) {
      ADC_RETURN_IF_ERROR(RequireFinite(values.at(name), name, "gradient"));
      grads.push_back(*first.graph.FindOutput(name));
    }
  }
  Graph g = std::move(first.graph);
  ADC_ASSIGN_OR_RETURN(std::string h,
                       AddProjection(&g, grads, options.seed + 1));
  ADC_ASSIGN_OR_RETURN(Differentiated second,
                       Differentiate(g, h, std::move(first.feeds), wrt,
                                     /*cotangent=*/"", options.seed + 2));
  ADC_ASSIGN_OR_RETURN(report.wrt, Compare(second, wrt, options));
  return report;
}

std::string ElementName(const std::string& name, const Dims& dims,
                        int64_t index) {
  if (dims.empty()) return name;
  std::vector<int64_t> multi(dims.size());
  for (size_t k = dims.size(); k-- > 0;) {
    multi[k] = dims[k] > 0 ? index % dims[k] : 0;
    index = dims[k] > 0 ? index / dims[k] : 0;
  }
  return absl::StrCat(name, "[", absl::StrJoin(multi, ","), "]");
}

std::vector<std::string> FormatReport(const GradCheckReport& report) {
  std::vector<std::string> names, elements;
  size_t name_width = 0, element_width = 0;
  for (const WrtCheck& c : report.wrt) {
    names.push_back(c.wrt);
    elements.push_back(
        c.worst < 0
            ? std::string("(no elements)")
            : absl::StrCat("worst ", ElementName(c.wrt, c.type.dims, c.worst)));
    name_width = std::max(name_width, names.back().size());
    element_width = std::max(element_width, elements.back().size());
  }
  std::vector<std::string> lines;
  for (size_t k = 0; k < report.wrt.size(); ++k) {
    const WrtCheck& c = report.wrt[k];
    std::string line = absl::StrFormat("%-*s  %-*s", name_width, names[k],
                                       element_width, elements[k]);
    if (c.worst >= 0) {
      absl::StrAppend(
          &line,
          absl::StrFormat("  analytic=%.10g numeric=%.10g abs_err=%.2g "
                          "rel_err=%.2g",
                          c.analytic, c.numeric, c.abs_error, c.rel_error));
    }
    absl::StrAppend(&line,
                    c.ok() ? "  ok"
                           : absl::StrCat("  FAILED (", c.mismatches, " of ",
                                          c.type.num_elements(), " elements)"));
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string ReportSummary(const GradCheckReport& report) {
  const GradCheckOptions& o = report.options;
  const std::string settings = absl::StrFormat(
      "order %d, eps=%g atol=%g rtol=%g", report.order, o.eps, o.atol, o.rtol);
  if (report.ok()) {
    return absl::StrCat("gradcheck: passed (", report.wrt.size(), " wrt, ",
                        report.num_elements(), " elements; ", settings, ")");
  }
  std::vector<std::string> failing;
  for (const WrtCheck& c : report.wrt) {
    if (!c.ok()) {
      failing.push_back(absl::StrCat(c.wrt, " ", c.mismatches, " of ",
                                     c.type.num_elements()));
    }
  }
  return absl::StrCat("gradcheck: FAILED: ", report.mismatches(), " of ",
                      report.num_elements(),
                      " elements differ from finite differences (",
                      absl::StrJoin(failing, ", "), "; ", settings, ")");
}

absl::Status ReportToStatus(const GradCheckReport& report) {
  if (report.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("gradcheck failed for ",
                                     report.mismatches(), " element(s) (order ",
                                     report.order, " of '", report.of, "'):");
  const std::vector<std::string> lines = FormatReport(report);
  for (size_t k = 0; k < lines.size(); ++k) {
    if (!report.wrt[k].ok()) absl::StrAppend(&message, "\n  ", lines[k]);
  }
  return absl::InternalError(message);
}

absl::Status GradCheck(const Graph& graph, const std::string& of,
                       const std::map<std::string, Tensor>& feeds,
                       std::vector<std::string> wrt,
                       const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(
      GradCheckReport report,
      CheckGradients(graph, of, feeds, std::move(wrt), options, 1));
  return ReportToStatus(report);
}

absl::Status GradGradCheck(const Graph& graph, const std::string& of,
                           const std::map<std::string, Tensor>& feeds,
                           std::vector<std::string> wrt,
                           const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(
      GradCheckReport report,
      CheckGradients(graph, of, feeds, std::move(wrt), options, 2));
  return ReportToStatus(report);
}

absl::StatusOr<std::vector<std::string>> AddRandomInputs(
    const Graph& graph, uint64_t seed, std::map<std::string, Tensor>* feeds) {
  std::vector<std::string> filled, missing;
  for (ValueId id : graph.inputs()) {
    const Node& node = graph.node(id);
    if (feeds->count(node.name)) continue;
    if (!IsFloat(node.type.dtype)) {
      missing.push_back(
          absl::StrCat(node.name, " (", node.type.ToString(), ")"));
      continue;
    }
    (*feeds)[node.name] = RandomTensor(
        node.type, seed * 0x9e3779b97f4a7c15ull + random::Fnv1a(node.name),
        kRandomInputLo, kRandomInputHi);
    filled.push_back(node.name);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        missing.size() > 1 ? "inputs " : "input ", absl::StrJoin(missing, ", "),
        missing.size() > 1 ? " need values" : " needs a value",
        ": integer and bool inputs are not drawn at random (an integer may be "
        "an index)"));
  }
  return filled;
}

Tensor RandomTensor(const TensorType& type, uint64_t seed, double lo,
                    double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor t(type);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, dist(rng));
  return t;
}

absl::Status JvpCheck(const Graph& graph, const std::string& of,
                      const std::map<std::string, Tensor>& feeds,
                      std::vector<std::string> wrt,
                      const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(wrt, ResolveWrt(graph, std::move(wrt)));
  std::optional<ValueId> of_id = graph.FindOutput(of);
  if (!of_id) {
    return absl::NotFoundError(
        absl::StrCat("jvpcheck: '", of, "' is not an output"));
  }
  const TensorType of_type = graph.type(*of_id);

  // Forward and reverse mode in one graph.
  Graph g = graph;
  JvpOptions jvp;
  jvp.of = {of};
  jvp.wrt = wrt;
  ADC_ASSIGN_OR_RETURN(JvpResult forward, AddJvp(&g, jvp));
  GradOptions grad;
  grad.of = of;
  grad.wrt = wrt;
  grad.seed = "jvpcheck_cotangent";
  while (g.Find(grad.seed)) grad.seed += "_";
  ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads, AddGradients(&g, grad));

  std::map<std::string, Tensor> base = AllFeeds(graph, feeds);
  std::map<std::string, Tensor> all = base;
  for (size_t k = 0; k < wrt.size(); ++k) {
    all[forward.tangents[k]] =
        RandomTensor(base.at(wrt[k]).type(), options.seed * 131 + k);
  }
  const Tensor s = RandomTensor(of_type, options.seed * 131 + 97);
  all[grad.seed] = s;
  ADC_ASSIGN_OR_RETURN(auto analytic, Interpret(g, all));
  const Tensor& jvp_value = analytic.at(forward.outputs[0]);

  // Central differences along the tangents.
  std::map<std::string, Tensor> plus = base, minus = base;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& t = all.at(forward.tangents[k]);
    Tensor& p = plus[wrt[k]];
    Tensor& m = minus[wrt[k]];
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      p.mutable_doubles()[i] += options.eps * t.doubles()[i];
      m.mutable_doubles()[i] -= options.eps * t.doubles()[i];
    }
  }
  ADC_ASSIGN_OR_RETURN(auto f_plus, Interpret(graph, plus));
  ADC_ASSIGN_OR_RETURN(auto f_minus, Interpret(graph, minus));
  std::string mismatches;
  int count = 0;
  {
    const Tensor& fp = f_plus.at(of);
    const Tensor& fm = f_minus.at(of);
    for (int64_t i = 0; i < jvp_value.num_elements(); ++i) {
      const double numeric =
          (fp.GetDouble(i) - fm.GetDouble(i)) / (2 * options.eps);
      const double got = jvp_value.GetDouble(i);
      if (!(std::abs(got - numeric) <=
            options.atol + options.rtol * std::abs(numeric)) &&
          ++count <= 5) {
        absl::StrAppend(&mismatches,
                        absl::StrFormat("\n  %s.jvp[%d]: forward mode %.12g, "
                                        "finite differences %.12g",
                                        of, i, got, numeric));
      }
    }
  }
  // <JVP(t), s> = <t, VJP(s)>.
  double lhs = 0, rhs = 0, scale = 0;
  for (int64_t i = 0; i < jvp_value.num_elements(); ++i) {
    const double term = jvp_value.GetDouble(i) * s.GetDouble(i);
    lhs += term;
    scale += std::abs(term);
  }
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& t = all.at(forward.tangents[k]);
    const Tensor& gk = analytic.at(grads[k]);
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      const double term = t.GetDouble(i) * gk.GetDouble(i);
      rhs += term;
      scale += std::abs(term);
    }
  }
  // Rounding only: relative to the terms' magnitudes (f32 casts inside a
  // graph round at about 1e-7, hence the looser bound with looser options).
  const double identity_rtol = std::max(1e-9, 1e-3 * options.rtol);
  if (!(std::abs(lhs - rhs) <= identity_rtol * scale + 1e-14)) {
    ++count;
    absl::StrAppend(&mismatches,
                    absl::StrFormat("\n  <JVP(t), s> = %.15g but <t, VJP(s)> = "
                                    "%.15g",
                                    lhs, rhs));
  }
  if (count > 0) {
    return absl::InternalError(absl::StrCat("jvpcheck failed for ", count,
                                            " element(s):", mismatches));
  }
  return absl::OkStatus();
}

}  // namespace adc
