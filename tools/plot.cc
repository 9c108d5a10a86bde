#include "tools/plot.h"

#include <cmath>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "codegen/process.h"
#include "graph/check.h"
#include "graph/interpreter.h"
#include "passes/autodiff.h"
#include "passes/vmap.h"

namespace adc {
namespace {

constexpr int kMaxOrder = 8;

// A gnuplot single-quoted string.
std::string Quoted(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "''"}, {"\n", " "}}) + "'";
}

std::string Prime(int k) {
  if (k == 0) return "";
  if (k <= 3) return std::string(k, '\'');
  return absl::StrCat("^(", k, ")");
}

}  // namespace

absl::StatusOr<PlotData> SampleDerivatives(const Graph& graph,
                                           const std::string& of,
                                           const std::string& wrt, double lo,
                                           double hi, int order, int points) {
  if (order < 0 || order > kMaxOrder) {
    return absl::InvalidArgumentError(absl::StrCat(
        "order ", order, ": plots show derivatives of order 0 to ", kMaxOrder));
  }
  if (points < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("points ", points, ": need at least 2"));
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("range ", lo, ":", hi, " is not an interval A < B"));
  }
  std::optional<ValueId> x = graph.Find(wrt);
  if (!x || graph.node(*x).op != OpKind::kInput) {
    return absl::InvalidArgumentError(
        absl::StrCat("--wrt '", wrt, "' is not an input of the graph"));
  }
  const TensorType x_type = graph.type(*x);
  if (!IsFloat(x_type.dtype) || x_type.rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--wrt '", wrt, "' is ", x_type.ToString(),
                     "; a plot's x is a floating-point scalar input"));
  }
  for (ValueId id : graph.inputs()) {
    if (id != *x) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the graph has another input, '", graph.node(id).name,
          "': a plot shows a function of --wrt alone (make the others "
          "parameters or constants)"));
    }
  }
  std::optional<ValueId> y = graph.FindOutputOrValue(of);
  if (!y) {
    return absl::NotFoundError(
        absl::StrCat("--of: no output or value named '", of, "'"));
  }
  const TensorType y_type = graph.type(*y);
  if (!IsFloat(y_type.dtype) || y_type.num_elements() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--of '", of, "' is ", y_type.ToString(),
                     "; a plot's function is a floating-point scalar"));
  }

  // Derivatives by autodiff, one order at a time.
  Graph g = graph;
  std::vector<std::string> names = {of};
  for (int k = 1; k <= order; ++k) {
    GradOptions options;
    options.of = names.back();
    options.wrt = {wrt};
    ADC_ASSIGN_OR_RETURN(std::vector<std::string> grads,
                         AddGradients(&g, options));
    names.push_back(grads[0]);
  }
  std::vector<ValueId> values;
  for (const std::string& name : names) {
    values.push_back(*g.FindOutputOrValue(name));
  }
  g.mutable_outputs().clear();
  for (size_t k = 0; k < values.size(); ++k) {
    g.AddOutput(absl::StrCat("curve", k), values[k]);
  }
  // Every x at once.
  VmapOptions batch;
  batch.batched = {wrt};
  batch.size = points;
  ADC_ASSIGN_OR_RETURN(Graph batched, Vmap(g, batch));
  PlotData data;
  Tensor xs({x_type.dtype, {points}});
  for (int i = 0; i < points; ++i) {
    xs.SetDouble(i, lo + (hi - lo) * i / (points - 1));
    data.x.push_back(xs.GetDouble(i));
  }
  ADC_ASSIGN_OR_RETURN(auto out, Interpret(batched, {{wrt, xs}}));
  for (size_t k = 0; k < values.size(); ++k) {
    const Tensor& t = out.at(absl::StrCat("curve", k));
    std::vector<double> curve;
    for (int i = 0; i < points; ++i) curve.push_back(t.GetDouble(i));
    data.curves.push_back(std::move(curve));
    data.names.push_back(
        k == 0 ? of
               : absl::StrCat(of, Prime(static_cast<int>(k)), " (d",
                              k > 1 ? absl::StrCat("^", k) : "", "/d", wrt,
                              k > 1 ? absl::StrCat("^", k) : "", ")"));
  }
  data.title = absl::StrCat(of, order > 0 ? " and its derivatives" : "", " (",
                            graph.name(), ")");
  data.x_label = wrt;
  return data;
}

std::string PlotDataToTsv(const PlotData& data) {
  std::string tsv = absl::StrCat("# ", data.x_label);
  for (const std::string& name : data.names) absl::StrAppend(&tsv, "\t", name);
  tsv += "\n";
  for (size_t i = 0; i < data.x.size(); ++i) {
    absl::StrAppendFormat(&tsv, "%.17g", data.x[i]);
    for (const std::vector<double>& curve : data.curves) {
      absl::StrAppendFormat(&tsv, "\t%.17g", curve[i]);
    }
    tsv += "\n";
  }
  return tsv;
}

absl::Status DrawPlot(const PlotData& data, const std::string& path) {
  std::string terminal;
  if (absl::EndsWith(path, ".svg")) {
    terminal = "svg size 800,500 dynamic background rgb 'white'";
  } else if (absl::EndsWith(path, ".png")) {
    terminal = "pngcairo size 800,500";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "-o '", path, "': the file name must end in .svg or .png"));
  }
  TempDir dir;
  if (!dir.ok()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  const std::string samples = dir.File("samples.tsv");
  ADC_RETURN_IF_ERROR(WriteFile(samples, PlotDataToTsv(data)));
  std::string script = absl::StrCat(
      "set terminal ", terminal, "\nset output ", Quoted(path), "\nset title ",
      Quoted(data.title), "\nset xlabel ", Quoted(data.x_label),
      "\nset xrange [",
      absl::StrFormat("%.17g:%.17g", data.x.front(), data.x.back()),
      "]\nset grid\nset key outside right top\nset datafile separator "
      "'\\t'\nplot ");
  for (size_t k = 0; k < data.names.size(); ++k) {
    absl::StrAppend(&script, k == 0 ? Quoted(samples) : ", ''",
                    " using 1:", k + 2, " with lines linewidth 2 title ",
                    Quoted(data.names[k]));
  }
  script += "\n";
  const std::string script_path = dir.File("plot.gp");
  ADC_RETURN_IF_ERROR(WriteFile(script_path, script));
  return RunTool({"gnuplot", script_path}, dir.File("gnuplot.log"),
                 "adc plot draws with gnuplot (apt-get install gnuplot-nox)");
}

}  // namespace adc
