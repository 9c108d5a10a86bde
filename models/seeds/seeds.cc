#include "models/seeds/seeds.h"

#include "graph/builder.h"
#include "graph/check.h"

namespace adc::seeds {
namespace {

Graph Finish(GraphBuilder& b) {
  absl::StatusOr<Graph> g = b.Build();
  ADC_CHECK_MSG(g.ok(), std::string(g.status().message()));
  return *std::move(g);
}

}  // namespace

Graph Scalar(DType dtype) {
  GraphBuilder b("scalar");
  Value x1 = b.Input("x1", dtype, {});
  Value x2 = b.Input("x2", dtype, {});
  b.Output("y", x1 * x2 - Sin(x2));
  return Finish(b);
}

Graph Composite(DType dtype) {
  GraphBuilder b("composite");
  Value x1 = b.Input("x1", dtype, {});
  Value x2 = b.Input("x2", dtype, {});
  b.Output("f", (1 + Sin(x2)) / (x2 + Exp(x1)) + x1 * x2);
  return Finish(b);
}

}  // namespace adc::seeds
