#include <chrono>
#include <iostream>
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "passes/autodiff.h"
#include "passes/pipeline.h"
using namespace adc;
int main(int argc, char** argv) {
  int layers = argc > 1 ? atoi(argv[1]) : 400;
  GraphBuilder b("deep");
  Value h = b.Input("x", DType::kF32, {8, 16});
  for (int layer = 0; layer < layers; ++layer) {
    Tensor w = Tensor::Filled(TensorType{DType::kF32, {16, 16}}, 0.01 * layer);
    Tensor bias = Tensor::Filled(TensorType{DType::kF32, {16}}, 0.1);
    h = Tanh(Linear(h, b.Parameter(absl::StrCat("w", layer), w),
                    b.Parameter(absl::StrCat("b", layer), bias)));
  }
  b.Output("loss", Mean(h * h));
  Graph g = *b.Build();
  auto n1 = AddGradients(&g, {.of = "loss"});
  auto n2 = AddGradients(&g, {.of = n1->front(), .seed = "ones"});
  auto t0 = std::chrono::steady_clock::now();
  auto p = OptimizationPipeline();
  auto r = p->Run(&g);
  auto t1 = std::chrono::steady_clock::now();
  std::cout << "ok=" << r.ok() << " ms=" << std::chrono::duration<double, std::milli>(t1 - t0).count() << "\n";
  for (auto& s : p->stats()) std::cout << s.name << " " << s.nodes_before << "->" << s.nodes_after << " " << s.milliseconds << "\n";
}
