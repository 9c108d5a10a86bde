// Writes the benchmark graphs (differentiated, ready for `adc compile`) to
// OUT_DIR. bench_vs_torch.py times them against the same computations in
// PyTorch.
//
//   composite_grad.pb  f = (1 + sin(x2)) / (x2 + exp(x1)) + x1*x2 on 2^22
//                      elements; outputs f and both gradients (seed ones).
//   mlp_step.pb        one training step of a 784-512-512-10 tanh MLP on a
//                      batch of 256: cross-entropy loss and the gradients of
//                      all six parameters.
//   matmul.pb          256x784 @ 784x512 (the MLP's first layer).
//   matmul_tn.pb       a^T @ b with a 256x784, b 256x512 (784x512): the
//                      first layer's weight gradient.
//   matmul_nt.pb       a @ b^T with a 256x512, b 784x512: the gradient
//                      flowing into the first layer's input.
//   softmax_grad.pb    log_softmax over rows of 256x10000 and its gradient.
//   conv_<layer>.pb    ResNet-18's convolution shapes (kConvShapes, batch
//                      4, 224x224 images): the convolution alone, and
//   conv_<layer>_grad.pb  with the gradients of x and w for a seed dy (a
//                      training step's three convolutions).
//   maxpool_grad.pb    ResNet-18's max pool (3x3, stride 2, padding 1) on
//                      4x64x112x112, value and VJP.
//   dropout_grad.pb    dropout (p = 0.5) on 256x4096, value and VJP.
//   composite_fwd.pb,  the forward parts of composite_grad and mlp_step
//   mlp_fwd.pb         alone (for the backward/forward time ratio).
//   scalar_grad.pb     f = x1 x2 - sin(x2) on f32 scalars and both
//                      gradients: the cost of one call.
//   hvp.pb             the Hessian-vector product of sum(x^3 sin x), x of
//                      2^20 elements (AddHvp: input x.tangent).
//   hessian.pb         the full Hessian of sum(tanh(A x)), A 64x64, x 64.
//   cnn_step.pb        a training step of train::SmallCnn (two 3x3 convs,
//                      max pools, two linear layers) on a batch of 64
//                      28x28 images: the loss and all parameter gradients.
//   resnet18_step.pb   a training step of train::ResNet18 (torchvision's
//                      resnet18, batch norm in training mode) on a batch of
//                      8 224x224 images, 1000 classes: the loss, all
//                      parameter gradients and the running statistics.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "graph/builder.h"
#include "graph/check.h"
#include "graph/serialize.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "passes/autodiff.h"
#include "passes/jacobian.h"

namespace adc {
namespace {

Tensor RandomTensor(Dims dims, double scale, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0, scale);
  Tensor t(TensorType{DType::kF32, std::move(dims)});
  for (int64_t i = 0; i < t.num_elements(); ++i) t.SetDouble(i, normal(rng));
  return t;
}

absl::Status Save(GraphBuilder& b, const std::string& path,
                  const GradOptions* grad) {
  absl::StatusOr<Graph> g = b.Build();
  if (!g.ok()) return g.status();
  if (grad != nullptr) {
    absl::StatusOr<std::vector<std::string>> names = AddGradients(&*g, *grad);
    if (!names.ok()) return names.status();
  }
  return SaveGraph(*g, path);
}

// ResNet-18's convolutions at 224x224 (torchvision's layer names).
struct ConvShape {
  const char* name;
  int64_t in, out, size, kernel, stride;
};
constexpr ConvShape kConvShapes[] = {
    {"conv1", 3, 64, 224, 7, 2},        {"layer1", 64, 64, 56, 3, 1},
    {"layer2_0", 64, 128, 56, 3, 2},    {"layer2", 128, 128, 28, 3, 1},
    {"layer3", 256, 256, 14, 3, 1},     {"layer4", 512, 512, 7, 3, 1},
    {"downsample3", 256, 512, 14, 1, 2}};
constexpr int64_t kConvBatch = 4;

absl::Status WriteConvs(const std::string& dir, std::mt19937_64& rng) {
  for (const ConvShape& c : kConvShapes) {
    for (bool grad : {false, true}) {
      const std::string name =
          std::string("conv_") + c.name + (grad ? "_grad" : "");
      GraphBuilder b(name);
      Value x = b.Input("x", DType::kF32, {kConvBatch, c.in, c.size, c.size});
      Value w = b.Parameter(
          "w", RandomTensor({c.out, c.in, c.kernel, c.kernel},
                            1.0 / std::sqrt(c.in * c.kernel * c.kernel), rng));
      WindowOptions o;
      o.strides = {c.stride, c.stride};
      o.pads_low = o.pads_high = {c.kernel / 2, c.kernel / 2};
      b.Output("y", Conv(x, w, std::nullopt, o));
      GradOptions g{.of = "y", .wrt = {"x", "w"}, .seed = "dy"};
      ADC_RETURN_IF_ERROR(
          Save(b, dir + "/" + name + ".pb", grad ? &g : nullptr));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAll(const std::string& dir) {
  std::mt19937_64 rng(7);
  {
    GraphBuilder b("composite_grad");
    const int64_t n = 1 << 22;
    Value x1 = b.Input("x1", DType::kF32, {n});
    Value x2 = b.Input("x2", DType::kF32, {n});
    b.Output("f", (1 + Sin(x2)) / (x2 + Exp(x1)) + x1 * x2);
    GradOptions grad{.of = "f", .seed = "ones"};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/composite_grad.pb", &grad));
  }
  {
    GraphBuilder b("mlp_step");
    Value x = b.Input("x", DType::kF32, {256, 784});
    Value labels = b.Input("labels", DType::kI64, {256});
    Value h = x;
    const std::vector<int64_t> sizes = {784, 512, 512, 10};
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const std::string s = std::to_string(l);
      Value w =
          b.Parameter("w" + s, RandomTensor({sizes[l + 1], sizes[l]},
                                            1.0 / std::sqrt(sizes[l]), rng));
      Value bias =
          b.Parameter("b" + s, RandomTensor({sizes[l + 1]}, 0.01, rng));
      h = Linear(h, w, bias);
      if (l + 2 < sizes.size()) h = Tanh(h);
    }
    b.Output("loss", CrossEntropy(h, labels));
    GradOptions grad{.of = "loss", .wrt = {"w0", "b0", "w1", "b1", "w2", "b2"}};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/mlp_step.pb", &grad));
  }
  {
    GraphBuilder b("matmul");
    Value a = b.Input("a", DType::kF32, {256, 784});
    Value w = b.Input("b", DType::kF32, {784, 512});
    b.Output("c", MatMul(a, w));
    ADC_RETURN_IF_ERROR(Save(b, dir + "/matmul.pb", nullptr));
  }
  {
    GraphBuilder b("matmul_tn");
    Value a = b.Input("a", DType::kF32, {256, 784});
    Value w = b.Input("b", DType::kF32, {256, 512});
    b.Output("c", MatMul(Transpose(a, {1, 0}), w));
    ADC_RETURN_IF_ERROR(Save(b, dir + "/matmul_tn.pb", nullptr));
  }
  {
    GraphBuilder b("matmul_nt");
    Value a = b.Input("a", DType::kF32, {256, 512});
    Value w = b.Input("b", DType::kF32, {784, 512});
    b.Output("c", MatMul(a, Transpose(w, {1, 0})));
    ADC_RETURN_IF_ERROR(Save(b, dir + "/matmul_nt.pb", nullptr));
  }
  {
    GraphBuilder b("softmax_grad");
    Value x = b.Input("x", DType::kF32, {256, 10000});
    Value y = LogSoftmax(x, 1);
    b.Output("y", y);
    GradOptions grad{.of = "y", .wrt = {"x"}, .seed = "dy"};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/softmax_grad.pb", &grad));
  }
  {
    GraphBuilder b("maxpool_grad");
    Value x = b.Input("x", DType::kF32, {4, 64, 112, 112});
    WindowOptions o;
    o.strides = {2, 2};
    o.pads_low = o.pads_high = {1, 1};
    b.Output("y", MaxPool(x, {3, 3}, o));
    GradOptions grad{.of = "y", .wrt = {"x"}, .seed = "dy"};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/maxpool_grad.pb", &grad));
  }
  {
    GraphBuilder b("dropout_grad");
    Value x = b.Input("x", DType::kF32, {256, 4096});
    Value seed =
        b.Parameter("seed", Tensor::FromInts(TensorType{DType::kI64, {}}, {1}));
    b.Output("y", Dropout(x, 0.5, seed));
    GradOptions grad{.of = "y", .wrt = {"x"}, .seed = "dy"};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/dropout_grad.pb", &grad));
  }
  {
    GraphBuilder b("composite_fwd");
    const int64_t n = 1 << 22;
    Value x1 = b.Input("x1", DType::kF32, {n});
    Value x2 = b.Input("x2", DType::kF32, {n});
    b.Output("f", (1 + Sin(x2)) / (x2 + Exp(x1)) + x1 * x2);
    ADC_RETURN_IF_ERROR(Save(b, dir + "/composite_fwd.pb", nullptr));
  }
  {
    // mlp_step's graph without its gradients: the same parameters.
    absl::StatusOr<Graph> g = LoadGraph(dir + "/mlp_step.pb");
    if (!g.ok()) return g.status();
    GraphBuilder b("mlp_fwd");
    Value x = b.Input("x", DType::kF32, {256, 784});
    Value labels = b.Input("labels", DType::kI64, {256});
    Value h = x;
    for (int l = 0; l < 3; ++l) {
      const std::string s = std::to_string(l);
      auto param = [&](const std::string& name) {
        return b.Parameter(name,
                           g->node(*g->Find(name)).attrs.GetTensor("value"));
      };
      h = Linear(h, param("w" + s), param("b" + s));
      if (l < 2) h = Tanh(h);
    }
    b.Output("loss", CrossEntropy(h, labels));
    ADC_RETURN_IF_ERROR(Save(b, dir + "/mlp_fwd.pb", nullptr));
  }
  {
    GraphBuilder b("scalar_grad");
    Value x1 = b.Input("x1", DType::kF32, {});
    Value x2 = b.Input("x2", DType::kF32, {});
    b.Output("f", x1 * x2 - Sin(x2));
    GradOptions grad{.of = "f", .wrt = {"x1", "x2"}};
    ADC_RETURN_IF_ERROR(Save(b, dir + "/scalar_grad.pb", &grad));
  }
  {
    GraphBuilder b("hvp");
    Value x = b.Input("x", DType::kF32, {1 << 20});
    b.Output("f", Sum(x * x * x * Sin(x)));
    absl::StatusOr<Graph> g = b.Build();
    if (!g.ok()) return g.status();
    ADC_RETURN_IF_ERROR(AddHvp(&*g, "f", "x").status());
    ADC_RETURN_IF_ERROR(SaveGraph(*g, dir + "/hvp.pb"));
  }
  {
    GraphBuilder b("hessian");
    Value a = b.Parameter("a", RandomTensor({64, 64}, 0.125, rng));
    Value x = b.Input("x", DType::kF32, {64});
    b.Output("f", Sum(Tanh(MatMul(a, x))));
    absl::StatusOr<Graph> g = b.Build();
    if (!g.ok()) return g.status();
    ADC_RETURN_IF_ERROR(AddHessian(&*g, "f", "x").status());
    ADC_RETURN_IF_ERROR(SaveGraph(*g, dir + "/hessian.pb"));
  }
  {
    absl::StatusOr<Graph> g =
        train::SmallCnn(/*batch=*/64, /*seed=*/1, /*with_loss=*/true);
    if (!g.ok()) return g.status();
    g->set_name("cnn_step");
    GradOptions grad{.of = "loss"};
    for (ValueId p : g->parameters()) grad.wrt.push_back(g->node(p).name);
    ADC_RETURN_IF_ERROR(AddGradients(&*g, grad).status());
    ADC_RETURN_IF_ERROR(SaveGraph(*g, dir + "/cnn_step.pb"));
  }
  {
    absl::StatusOr<Graph> g = train::ResNet18(/*batch=*/8, /*image_size=*/224,
                                              /*num_classes=*/1000,
                                              /*seed=*/1, /*training=*/true);
    if (!g.ok()) return g.status();
    g->set_name("resnet18_step");
    ADC_RETURN_IF_ERROR(train::AddGradientStep(&*g, "loss").status());
    ADC_RETURN_IF_ERROR(SaveGraph(*g, dir + "/resnet18_step.pb"));
  }
  return WriteConvs(dir, rng);
}

}  // namespace
}  // namespace adc

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_graphs OUT_DIR\n");
    return 2;
  }
  absl::Status status = adc::WriteAll(argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "bench_graphs: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
