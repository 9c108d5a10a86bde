#include "tests/grad_check.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/interpreter.h"
#include "passes/autodiff.h"
#include "passes/forward_mode.h"

namespace adc {
namespace {

// Adds output "<name>.projected" = sum_k sum(values_k * r_k) with fixed random
// r_k (uniform in [0.5, 1.5], so no direction is degenerate).
absl::StatusOr<std::string> AddProjection(Graph* graph,
                                          const std::vector<ValueId>& values,
                                          uint64_t seed) {
  GraphBuilder b(graph);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  Value total;
  for (ValueId id : values) {
    Value v = b.Wrap(id);
    std::vector<double> r(v.type().num_elements());
    for (double& x : r) x = dist(rng);
    Value term = Sum(v * Constant(b, Tensor::FromDoubles(v.type(), r)));
    total = total.valid() ? total + term : term;
  }
  if (!b.ok()) return b.status();
  // Unique among outputs as well as values: GradGradCheck projects twice.
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
          absl::StrCat("gradcheck: '", name, "' is not an input or parameter"));
    }
    if (graph.type(*id).dtype != DType::kF64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gradcheck: '", name, "' must be f64 for finite differences, not ",
          graph.type(*id).ToString()));
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

absl::StatusOr<double> EvalScalar(const Graph& graph, const std::string& out,
                                  const std::map<std::string, Tensor>& feeds) {
  ADC_ASSIGN_OR_RETURN(auto outputs, Interpret(graph, feeds));
  return outputs.at(out).GetDouble(0);
}

// `graph` with of projected to a scalar and that scalar differentiated with
// respect to `wrt`.
struct Projected {
  Graph graph;
  std::string scalar;
  std::vector<std::string> grad_names;
};

absl::StatusOr<Projected> ProjectAndDifferentiate(
    const Graph& graph, const std::string& of,
    const std::vector<std::string>& wrt, uint64_t seed) {
  std::optional<ValueId> of_id = graph.FindOutputOrValue(of);
  if (!of_id) {
    return absl::NotFoundError(absl::StrCat("gradcheck: no '", of, "'"));
  }
  Projected p{graph, "", {}};
  ADC_ASSIGN_OR_RETURN(p.scalar, AddProjection(&p.graph, {*of_id}, seed));
  GradOptions grad_options;
  grad_options.of = p.scalar;
  grad_options.wrt = wrt;
  ADC_ASSIGN_OR_RETURN(p.grad_names, AddGradients(&p.graph, grad_options));
  return p;
}

}  // namespace

absl::Status GradCheck(const Graph& graph, const std::string& of,
                       const std::map<std::string, Tensor>& feeds,
                       std::vector<std::string> wrt,
                       const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(wrt, ResolveWrt(graph, std::move(wrt)));
  ADC_ASSIGN_OR_RETURN(Projected p,
                       ProjectAndDifferentiate(graph, of, wrt, options.seed));
  Graph& g = p.graph;
  const std::string& scalar = p.scalar;
  const std::vector<std::string>& grad_names = p.grad_names;
  std::map<std::string, Tensor> base = AllFeeds(graph, feeds);
  ADC_ASSIGN_OR_RETURN(auto analytic, Interpret(g, base));
  std::string mismatches;
  int count = 0;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& grad = analytic.at(grad_names[k]);
    Tensor x = base.at(wrt[k]);
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const double x0 = x.doubles()[i];
      std::map<std::string, Tensor> feeds_plus = base, feeds_minus = base;
      feeds_plus[wrt[k]].mutable_doubles()[i] = x0 + options.eps;
      feeds_minus[wrt[k]].mutable_doubles()[i] = x0 - options.eps;
      ADC_ASSIGN_OR_RETURN(double f_plus, EvalScalar(g, scalar, feeds_plus));
      ADC_ASSIGN_OR_RETURN(double f_minus, EvalScalar(g, scalar, feeds_minus));
      const double numeric = (f_plus - f_minus) / (2 * options.eps);
      const double got = grad.doubles()[i];
      const bool ok = std::abs(got - numeric) <=
                      options.atol + options.rtol * std::abs(numeric);
      if (!ok && ++count <= 5) {
        absl::StrAppend(&mismatches,
                        absl::StrFormat("\n  d%s/d%s[%d]: autodiff %.12g, "
                                        "finite differences %.12g",
                                        of, wrt[k], i, got, numeric));
      }
    }
  }
  if (count > 0) {
    return absl::InternalError(absl::StrCat("gradcheck failed for ", count,
                                            " element(s):", mismatches));
  }
  return absl::OkStatus();
}

absl::Status GradGradCheck(const Graph& graph, const std::string& of,
                           const std::map<std::string, Tensor>& feeds,
                           std::vector<std::string> wrt,
                           const GradCheckOptions& options) {
  ADC_ASSIGN_OR_RETURN(wrt, ResolveWrt(graph, std::move(wrt)));
  ADC_ASSIGN_OR_RETURN(Projected p,
                       ProjectAndDifferentiate(graph, of, wrt, options.seed));
  Graph& g = p.graph;
  std::vector<ValueId> grads;
  for (const std::string& name : p.grad_names)
    grads.push_back(*g.FindOutput(name));
  ADC_ASSIGN_OR_RETURN(std::string projected,
                       AddProjection(&g, grads, options.seed + 1));
  return GradCheck(g, projected, feeds, wrt, options);
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
