// The adc demo (the README's first command): builds the seed example
// y = x1*x2 - sin(x2) and the composite f = (1 + sin(x2))/(x2 + exp(x1)) +
// x1*x2 with the builder, differentiates them (first and second order),
// compiles them ahead of time with Halide, runs the artifacts through the
// lean runtime and prints values and derivatives next to PyTorch's (float64),
// then writes the graphs and their pictures.
//
//   bazel run //models/demo -- [OUT_DIR]     (default: ./demo_out)
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "codegen/compile.h"
#include "graph/serialize.h"
#include "models/seeds/seeds.h"
#include "passes/autodiff.h"
#include "runtime/module.h"
#include "tools/dot.h"

namespace {

struct Row {
  const char* label;
  const char* output;  // Output name in the differentiated graph.
  double expected;     // PyTorch, float64.
};

struct Example {
  const char* title;
  adc::Graph graph;
  const char* of;
  double x1, x2;
  std::vector<Row> rows;
};

bool Check(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "demo: %s: %s\n", what,
                 std::string(status.message()).c_str());
  }
  return status.ok();
}

// First and second derivatives: grad of `of`, then grad of each first
// derivative (rows of the Hessian).
bool Differentiate(adc::Graph* g, const std::string& of) {
  auto first = adc::AddGradients(g, {.of = of});
  if (!Check(first.status(), "grad")) return false;
  for (const std::string& name : *first) {
    auto second = adc::AddGradients(g, {.of = name, .wrt = {"x1", "x2"}});
    if (!Check(second.status(), "grad of grad")) return false;
  }
  return true;
}

bool RunExample(Example& ex, const std::string& dir, bool* all_ok) {
  const std::string name = ex.graph.name();
  if (!Differentiate(&ex.graph, ex.of)) return false;
  const std::string so = dir + "/" + name + ".so";
  if (!Check(adc::SaveGraph(ex.graph, dir + "/" + name + "_grad2.pbtxt"),
             "save") ||
      !Check(adc::CompileToSharedLibrary(ex.graph, so), "compile")) {
    return false;
  }
  auto module = adc::rt::Module::Load(so);
  if (!module.ok()) {
    std::fprintf(stderr, "demo: load: %s\n", module.status().message().c_str());
    return false;
  }
  std::map<std::string, adc::rt::Tensor> inputs;
  for (const auto& [input, value] :
       {std::pair<const char*, float>{"x1", static_cast<float>(ex.x1)},
        {"x2", static_cast<float>(ex.x2)}}) {
    adc::rt::Tensor t(adc::rt::DType::kF32, {});
    *t.data_as<float>() = value;
    inputs[input] = t;
  }
  auto result = (*module)->Run(inputs);
  if (!result.ok()) {
    std::fprintf(stderr, "demo: run: %s\n", result.status().message().c_str());
    return false;
  }
  std::printf("\n%s at x1 = %g, x2 = %g\n", ex.title, ex.x1, ex.x2);
  std::printf("  %-14s %-11s %-22s %s\n", "", "adc (f32)", "PyTorch (f64)",
              "output");
  for (const Row& row : ex.rows) {
    const double got = *result->at(row.output).data_as<float>();
    const bool ok = std::abs(got - row.expected) <=
                    1e-5 * std::max(1.0, std::abs(row.expected));
    *all_ok = *all_ok && ok;
    std::printf("  %-14s %-11.7g %-22.17g %s%s\n", row.label, got, row.expected,
                row.output, ok ? "" : "   <-- MISMATCH");
  }
  const std::string svg = dir + "/" + name + "_grad.svg";
  if (Check(adc::RenderDot(adc::GraphToDot(ex.graph), "svg", svg), "dot")) {
    std::printf("  graph: %s/%s_grad2.pbtxt, picture: %s, artifact: %s\n",
                dir.c_str(), name.c_str(), svg.c_str(), so.c_str());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "demo_out";
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
      wd != nullptr && !dir.empty() && dir[0] != '/') {
    dir = std::string(wd) + "/" + dir;  // `bazel run` starts elsewhere.
  }
  mkdir(dir.c_str(), 0755);
  std::printf(
      "adc demo: builder -> autodiff (1st and 2nd order) -> Halide AOT "
      "-> runtime\n");
  std::vector<Example> examples;
  examples.push_back({"y = x1*x2 - sin(x2)",
                      adc::seeds::Scalar(),
                      "y",
                      2,
                      3,
                      {{"y", "y", 5.858879991940133},
                       {"dy/dx1", "x1.grad", 3.0},
                       {"dy/dx2", "x2.grad", 2.989992496600445},
                       {"d2y/dx1dx1", "x1.grad2", 0.0},
                       {"d2y/dx1dx2", "x2.grad2", 1.0},
                       {"d2y/dx2dx1", "x1.grad3", 1.0},
                       {"d2y/dx2dx2", "x2.grad3", 0.1411200080598672}}});
  examples.push_back({"f = (1 + sin(x2)) / (x2 + exp(x1)) + x1*x2",
                      adc::seeds::Composite(),
                      "f",
                      1.5,
                      0.5,
                      {{"f", "f", 1.0469726768804155},
                       {"df/dx1", "x1.grad", 0.23283374747559749},
                       {"df/dx2", "x2.grad", 1.6165488003791766},
                       {"d2f/dx1dx1", "x1.grad2", 0.21353660026144577},
                       {"d2f/dx1dx2", "x2.grad2", 0.9487785711446157},
                       {"d2f/dx2dx1", "x1.grad3", 0.9487785711446157},
                       {"d2f/dx2dx2", "x2.grad3", -0.14302842455685488}}});
  bool all_ok = true;
  for (Example& ex : examples) {
    if (!RunExample(ex, dir, &all_ok)) return 1;
  }
  std::printf("\n%s\n", all_ok ? "all values match PyTorch (f32 tolerance 1e-5)"
                               : "MISMATCH against PyTorch");
  return all_ok ? 0 : 1;
}
