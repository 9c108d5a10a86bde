// torchvision's ResNet-18 (num_classes=10, input 2x3x32x32) against PyTorch's
// float64 values, with no Python and no 45 MB of weights in the repository:
// testdata/resnet18_structure.onnx is the exported model with every
// initializer's data removed, and every parameter and running statistic
// follows a formula (make_resnet18.py's docstring) that this test
// reproduces bit for bit (checked against the checksums of the float32 bits
// of every initializer in reference.txt). The test fills the initializers in
// and writes the complete model to TEST_TMPDIR, then
// - imports it, differentiates sum(logits * seed) with respect to the input
//   and all 62 parameters, compiles it for this machine and checks the
//   logits, the input's gradient and summaries of every parameter's gradient;
// - builds ResNet-18 with the builder (models/train/layers.h), loads the
//   state from that file by name (tools/onnx/state.h) and checks the logits
//   in evaluation mode, and in training mode the loss and every running
//   statistic's update;
// - checks the state loader's errors.
// Tolerance: errors relative to the largest magnitude of each compared
// tensor (for sums: to the sum of magnitudes) at most 1e-4.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "codegen/run_compiled.h"
#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/file_io.h"
#include "graph/interpreter.h"
#include "gtest/gtest.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "onnx/onnx_pb.h"
#include "passes/autodiff.h"
#include "tools/npy.h"
#include "tools/onnx/importer.h"
#include "tools/onnx/state.h"

namespace adc {
namespace {

constexpr char kTestdata[] = "models/resnet18/testdata/";
constexpr double kTolerance = 1e-4;
constexpr int64_t kBatch = 2, kImageSize = 32, kClasses = 10;

// ---------------------------------------------------------------------------
// The formula of make_resnet18.py.
// ---------------------------------------------------------------------------
uint32_t Fnv1a32(const std::string& s) {
  uint32_t h = 0x811C9DC5u;
  for (unsigned char c : s) h = (h ^ c) * 0x01000193u;
  return h;
}

// lowbias32 of i * golden ratio + seed (mod 2^32).
uint32_t Hash32(uint32_t seed, uint32_t i) {
  uint32_t x = i * 0x9E3779B9u + seed;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

// The tensor `name` (f32) with values float(lo + (hi - lo) u), u in [0, 1).
Tensor Formula(const std::string& name, const Dims& dims, double lo,
               double hi) {
  Tensor t({DType::kF32, dims});
  const uint32_t seed = Fnv1a32(name);
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const double u = static_cast<double>(Hash32(seed, i) >> 8) * 0x1p-24;
    t.SetDouble(i, static_cast<float>(lo + (hi - lo) * u));
  }
  return t;
}

// The value of a parameter or running statistic, by its kind.
Tensor StateFormula(const std::string& name, const Dims& dims) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) ==
               0;
  };
  if (ends_with(".weight") && dims.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t d = 1; d < dims.size(); ++d) fan_in *= dims[d];
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return Formula(name, dims, -bound, bound);
  }
  if (ends_with(".weight") || ends_with(".running_var")) {
    return Formula(name, dims, 0.5, 1.5);
  }
  EXPECT_TRUE(ends_with(".bias") || ends_with(".running_mean")) << name;
  return Formula(name, dims, -0.2, 0.2);
}

// sum over i of bits(t[i]) (2i + 1) mod 2^64, of the float32 bits.
uint64_t Checksum(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.ToBytes();
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size() / 4; ++i) {
    uint32_t bits;
    std::memcpy(&bits, bytes.data() + 4 * i, 4);
    sum += static_cast<uint64_t>(bits) * (2 * i + 1);
  }
  return sum;
}

// ---------------------------------------------------------------------------
// The references.
// ---------------------------------------------------------------------------
// A float64 tensor by its sum, sum of magnitudes, largest magnitude and some
// elements (flat index -> value).
struct Summary {
  double sum = 0, abs_sum = 0, max_abs = 0;
  std::map<int64_t, double> elements;
};

struct Reference {
  std::map<std::string, uint64_t> checksums;  // By initializer, file order.
  std::vector<std::string> initializer_order;
  std::map<std::string, Summary> grads;  // "<parameter>.grad"
  double train_loss = 0;
  std::map<std::string, Summary> train;  // "<bn>.running_mean.next", ...
  Tensor input, seed, logits, input_grad;
};

Summary ParseSummary(const std::vector<std::string>& f, const std::string& l) {
  Summary s;
  EXPECT_GE(f.size(), 5u) << l;
  if (f.size() < 5) return s;
  EXPECT_TRUE(absl::SimpleAtod(f[2], &s.sum) &&
              absl::SimpleAtod(f[3], &s.abs_sum) &&
              absl::SimpleAtod(f[4], &s.max_abs))
      << l;
  for (size_t k = 5; k < f.size(); ++k) {
    std::vector<std::string> iv = absl::StrSplit(f[k], ':');
    int64_t i = 0;
    double v = 0;
    EXPECT_TRUE(iv.size() == 2 && absl::SimpleAtoi(iv[0], &i) &&
                absl::SimpleAtod(iv[1], &v))
        << l;
    s.elements[i] = v;
  }
  return s;
}

Tensor ReadTestdataNpy(const std::string& file) {
  absl::StatusOr<Tensor> t = ReadNpyTensor(kTestdata + file);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

Reference ReadReference() {
  Reference ref;
  std::ifstream file(std::string(kTestdata) + "reference.txt");
  EXPECT_TRUE(file) << "cannot open reference.txt";
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f[0] == "init" && f.size() == 3) {
      uint64_t checksum = 0;
      EXPECT_TRUE(absl::SimpleAtoi(f[2], &checksum)) << line;
      ref.checksums[f[1]] = checksum;
      ref.initializer_order.push_back(f[1]);
    } else if (f[0] == "grad") {
      ref.grads[f[1] + ".grad"] = ParseSummary(f, line);
    } else if (f[0] == "train") {
      ref.train[f[1]] = ParseSummary(f, line);
    } else if (f[0] == "train_loss" && f.size() == 2) {
      EXPECT_TRUE(absl::SimpleAtod(f[1], &ref.train_loss)) << line;
    } else {
      ADD_FAILURE() << "unexpected line in reference.txt: " << line;
    }
  }
  ref.input = ReadTestdataNpy("input.npy");
  ref.seed = ReadTestdataNpy("seed.npy");
  ref.logits = ReadTestdataNpy("logits.npy");
  ref.input_grad = ReadTestdataNpy("input.grad.npy");
  return ref;
}

// ---------------------------------------------------------------------------
// Comparisons: each relative error is expected within kTolerance, and
// Worst keeps the largest.
// ---------------------------------------------------------------------------
struct Worst {
  double error = 0;
  std::string where;
  void Note(double e, const std::string& w) {
    EXPECT_LE(e, kTolerance) << w;
    if (!(e <= error)) {  // NaN included.
      error = e;
      where = w;
    }
  }
};

// max |got - want| / max |want| over every element.
void CompareTensors(const std::string& name, const Tensor& got,
                    const Tensor& want, Worst& worst) {
  ASSERT_EQ(got.dims(), want.dims()) << name;
  double err = 0, scale = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    err = std::max(err, std::abs(got.GetDouble(i) - want.GetDouble(i)));
    scale = std::max(scale, std::abs(want.GetDouble(i)));
  }
  ASSERT_GT(scale, 0) << name;
  worst.Note(err / scale, name);
}

// The sum against the sum of magnitudes, the sum of magnitudes against
// itself, the largest magnitude and the elements against the largest
// magnitude.
void CompareSummary(const std::string& name, const Tensor& got,
                    const Summary& want, Worst& worst) {
  ASSERT_GT(want.max_abs, 0) << name;
  double sum = 0, abs_sum = 0, max_abs = 0;
  for (int64_t i = 0; i < got.num_elements(); ++i) {
    sum += got.GetDouble(i);
    abs_sum += std::abs(got.GetDouble(i));
    max_abs = std::max(max_abs, std::abs(got.GetDouble(i)));
  }
  worst.Note(std::abs(sum - want.sum) / want.abs_sum, name + " sum");
  worst.Note(std::abs(abs_sum - want.abs_sum) / want.abs_sum,
             name + " sum of magnitudes");
  worst.Note(std::abs(max_abs - want.max_abs) / want.max_abs,
             name + " largest magnitude");
  ASSERT_FALSE(want.elements.empty()) << name;
  for (const auto& [i, v] : want.elements) {
    ASSERT_LT(i, got.num_elements()) << name;
    worst.Note(std::abs(got.GetDouble(i) - v) / want.max_abs,
               name + "[" + std::to_string(i) + "]");
  }
}

void Report(const std::string& what, const Worst& worst) {
  std::cout << what << ": worst relative error " << worst.error << " ("
            << worst.where << ")" << std::endl;
  ::testing::Test::RecordProperty(what, std::to_string(worst.error));
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// ---------------------------------------------------------------------------
// The fixture: the complete model, written once.
// ---------------------------------------------------------------------------
class ResNet18Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ref_ = new Reference(ReadReference());
    checksums_ = new std::map<std::string, uint64_t>;
    model_path_ = new std::string(::testing::TempDir() + "/resnet18.onnx");
    absl::StatusOr<onnx::ModelProto> model =
        ReadOnnxModel(std::string(kTestdata) + "resnet18_structure.onnx");
    ASSERT_TRUE(model.ok()) << model.status();
    for (onnx::TensorProto& t :
         *model->mutable_graph()->mutable_initializer()) {
      ASSERT_EQ(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
      ASSERT_FALSE(t.has_raw_data()) << t.name() << " has data";
      const Tensor value =
          StateFormula(t.name(), Dims(t.dims().begin(), t.dims().end()));
      const std::vector<uint8_t> bytes = value.ToBytes();
      t.set_raw_data(bytes.data(), bytes.size());
      (*checksums_)[t.name()] = Checksum(value);
    }
    std::string bytes;
    ASSERT_TRUE(model->SerializeToString(&bytes));
    absl::Status written = WriteFile(*model_path_, bytes);
    ASSERT_TRUE(written.ok()) << written;
  }

  static void TearDownTestSuite() {
    delete ref_;
    delete checksums_;
    delete model_path_;
  }

  // The builder model with the state of the complete file.
  static Graph LoadedBuilderModel(int64_t batch, bool training) {
    absl::StatusOr<Graph> g =
        train::ResNet18(batch, kImageSize, kClasses, /*seed=*/1, training);
    EXPECT_TRUE(g.ok()) << g.status();
    absl::StatusOr<std::vector<std::string>> unused =
        LoadOnnxState(*model_path_, &*g);
    EXPECT_TRUE(unused.ok()) << unused.status();
    if (unused.ok()) {
      EXPECT_THAT(*unused, ::testing::IsEmpty());
    }
    return *std::move(g);
  }

  static Reference* ref_;
  static std::map<std::string, uint64_t>* checksums_;
  static std::string* model_path_;
};

Reference* ResNet18Test::ref_ = nullptr;
std::map<std::string, uint64_t>* ResNet18Test::checksums_ = nullptr;
std::string* ResNet18Test::model_path_ = nullptr;

TEST_F(ResNet18Test, FormulaGivesPyTorchsState) {
  // Every initializer of the exported model, bit for bit.
  EXPECT_EQ(ref_->checksums.size(), 102u);
  EXPECT_EQ(*checksums_, ref_->checksums);
  EXPECT_EQ(ref_->input, Formula("input", {2, 3, 32, 32}, -1, 1));
  EXPECT_EQ(ref_->seed, Formula("seed", {2, 10}, 0.5, 1.5));
}

TEST_F(ResNet18Test, ImportedGradientsMatchPyTorch) {
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Graph> g = ImportOnnx(*model_path_);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->parameters().size(), 102u);
  // d sum(logits * seed) / d (input, the 62 trained parameters); the seed
  // is a new input.
  std::vector<std::string> wrt = {"input"};
  for (ValueId id : g->parameters()) {
    const std::string& name = g->node(id).name;
    if (name.find(".running_") == std::string::npos) wrt.push_back(name);
  }
  ASSERT_EQ(wrt.size(), 63u);
  absl::StatusOr<std::vector<std::string>> grads =
      AddGradients(&*g, {.of = "logits", .wrt = wrt, .seed = "seed"});
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::cout << "import and autodiff: " << Seconds(start) << " s" << std::endl;

  start = std::chrono::steady_clock::now();
  absl::StatusOr<CompiledGraph> compiled = CompiledGraph::Compile(*g);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::cout << "compile: " << Seconds(start) << " s" << std::endl;
  start = std::chrono::steady_clock::now();
  absl::StatusOr<std::map<std::string, Tensor>> out =
      compiled->Run({{"input", ref_->input}, {"seed", ref_->seed}});
  ASSERT_TRUE(out.ok()) << out.status();
  std::cout << "run: " << Seconds(start) << " s" << std::endl;

  Worst worst;
  CompareTensors("logits", out->at("logits"), ref_->logits, worst);
  CompareTensors("input.grad", out->at("input.grad"), ref_->input_grad, worst);
  ASSERT_EQ(ref_->grads.size(), 62u);
  for (size_t i = 1; i < wrt.size(); ++i) {
    const std::string name = (*grads)[i];
    ASSERT_EQ(name, wrt[i] + ".grad");
    ASSERT_EQ(ref_->grads.count(name), 1u) << name;
    CompareSummary(name, out->at(name), ref_->grads.at(name), worst);
  }
  Report("imported, compiled (logits, input.grad, 62 parameter gradients)",
         worst);
}

TEST_F(ResNet18Test, BuilderModelHasTorchvisionsNamesAndShapes) {
  absl::StatusOr<Graph> g =
      train::ResNet18(kBatch, kImageSize, kClasses, /*seed=*/1, false);
  ASSERT_TRUE(g.ok()) << g.status();
  // The state_dict's order (torchvision's module order), which the
  // exporter keeps for the initializers.
  std::vector<std::string> names;
  int trained = 0;
  for (ValueId id : g->parameters()) {
    names.push_back(g->node(id).name);
    trained += names.back().find(".running_") == std::string::npos;
  }
  EXPECT_EQ(names, ref_->initializer_order);
  EXPECT_EQ(trained, 62);
  EXPECT_EQ(g->type(*g->Find("layer2.0.downsample.0.weight")).ToString(),
            "f32[128,64,1,1]");
  EXPECT_EQ(g->type(*g->Find("fc.weight")).ToString(), "f32[10,512]");
  ASSERT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->type(g->outputs()[0].value).ToString(), "f32[2,10]");
  // torchvision's init: batch norm weight 1, bias 0; Kaiming-normal
  // convolutions (standard deviation sqrt(2 / (64 * 49)) for conv1).
  const Tensor& conv1 =
      g->node(*g->Find("conv1.weight")).attrs.GetTensor("value");
  double sum_sq = 0;
  for (int64_t i = 0; i < conv1.num_elements(); ++i) {
    sum_sq += conv1.GetDouble(i) * conv1.GetDouble(i);
  }
  EXPECT_NEAR(std::sqrt(sum_sq / conv1.num_elements()),
              std::sqrt(2.0 / (64 * 49)), 0.002);
  EXPECT_EQ(g->node(*g->Find("layer3.1.bn2.weight")).attrs.GetTensor("value"),
            Tensor::Filled({DType::kF32, {256}}, 1));
}

TEST_F(ResNet18Test, BuilderModelWithTheLoadedStateMatchesPyTorch) {
  const auto start = std::chrono::steady_clock::now();
  const Graph g = LoadedBuilderModel(kBatch, /*training=*/false);
  absl::StatusOr<std::map<std::string, Tensor>> out =
      Interpret(g, {{"x", ref_->input}});
  ASSERT_TRUE(out.ok()) << out.status();
  Worst worst;
  CompareTensors("logits", out->at("logits"), ref_->logits, worst);
  Report("builder, eval mode, interpreted (logits)", worst);
  std::cout << "builder eval: " << Seconds(start) << " s" << std::endl;
}

TEST_F(ResNet18Test, BuilderModelInTrainingModeMatchesPyTorch) {
  const auto start = std::chrono::steady_clock::now();
  // 4 images (make_resnet18.py's TRAIN_SHAPE: with 2, layer4's batch
  // statistics are too ill-conditioned for f32 tolerances).
  Graph g = LoadedBuilderModel(4, /*training=*/true);
  const Tensor labels = Tensor::FromInts({DType::kI64, {4}}, {3, 7, 1, 5});
  absl::StatusOr<std::map<std::string, Tensor>> out = Interpret(
      g, {{"x", Formula("train_input", {4, 3, 32, 32}, -1, 1)}, {"y", labels}});
  ASSERT_TRUE(out.ok()) << out.status();
  Worst worst;
  worst.Note(std::abs(out->at("loss").GetDouble(0) - ref_->train_loss) /
                 std::abs(ref_->train_loss),
             "loss");
  ASSERT_EQ(ref_->train.size(), 40u);
  for (const auto& [name, summary] : ref_->train) {
    ASSERT_EQ(out->count(name), 1u) << name;
    CompareSummary(name, out->at(name), summary, worst);
  }
  Report("builder, training mode, interpreted (loss, 40 running statistics)",
         worst);
  // A training step (SGD with momentum) trains the 62 parameters, each with
  // a momentum buffer, and keeps the statistics' updates as they are.
  absl::StatusOr<train::TrainStep> step =
      train::AddTrainStep(&g, "loss", train::Optimizer::Sgd(0.1, 0.9));
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->updates.size(), 62u * 2 + 40);
  EXPECT_THAT(step->updates,
              ::testing::Contains(std::make_pair(
                  std::string("layer4.1.bn2.running_var"),
                  std::string("layer4.1.bn2.running_var.next"))));
  std::cout << "builder training: " << Seconds(start) << " s" << std::endl;
}

// A graph with the parameters `params` (zeros), all used.
Graph WithParameters(
    const std::vector<std::pair<std::string, TensorType>>& params) {
  GraphBuilder b("small");
  Value y = Scalar(b, 0, DType::kF64);
  for (const auto& [name, type] : params)
    y = y + Sum(b.Parameter(name, Tensor(type)));
  b.Output("y", y);
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST_F(ResNet18Test, StateLoaderErrorsNameTheValue) {
  // A shape that differs: 100 classes.
  absl::StatusOr<Graph> g =
      train::ResNet18(kBatch, kImageSize, 100, /*seed=*/1, false);
  ASSERT_TRUE(g.ok()) << g.status();
  const Graph before = *g;
  absl::StatusOr<std::vector<std::string>> r = LoadOnnxState(*model_path_, &*g);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      r.status().message(),
      ::testing::HasSubstr("parameter 'fc.weight': the ONNX initializer is "
                           "f32[10,512], the graph's parameter f32[100,512]"));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr(*model_path_));
  // Nothing changed, not even the parameters before fc.
  EXPECT_EQ(g->node(*g->Find("conv1.weight")).attrs.GetTensor("value"),
            before.node(*before.Find("conv1.weight")).attrs.GetTensor("value"));

  // A dtype that differs.
  Graph small = WithParameters({{"fc.bias", {DType::kF64, {10}}}});
  r = LoadOnnxState(*model_path_, &small);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      r.status().message(),
      ::testing::HasSubstr("parameter 'fc.bias': the ONNX initializer "
                           "is f32[10], the graph's parameter f64[10]"));

  // Names the file lacks, all of them listed.
  small = WithParameters({{"fc.bias", {DType::kF32, {10}}},
                          {"head.scale", {DType::kF32, {10}}},
                          {"head.shift", {DType::kF32, {10}}}});
  r = LoadOnnxState(*model_path_, &small);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              ::testing::HasSubstr("no initializer for 2 of the 3 parameters "
                                   "of graph 'small': head.scale, head.shift"));
  EXPECT_EQ(small.node(*small.Find("fc.bias")).attrs.GetTensor("value"),
            Tensor({DType::kF32, {10}}));

  // A graph with some of the names loads them and returns the others.
  small = WithParameters({{"fc.weight", {DType::kF32, {10, 512}}},
                          {"fc.bias", {DType::kF32, {10}}}});
  r = LoadOnnxState(*model_path_, &small);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> rest = ref_->initializer_order;
  rest.erase(std::remove_if(
                 rest.begin(), rest.end(),
                 [](const std::string& n) { return n.rfind("fc.", 0) == 0; }),
             rest.end());
  EXPECT_EQ(*r, rest);
  EXPECT_EQ(small.node(*small.Find("fc.bias")).attrs.GetTensor("value"),
            StateFormula("fc.bias", {10}));

  // The structure-only file has no data: the error names the tensor.
  g = train::ResNet18(kBatch, kImageSize, kClasses, /*seed=*/1, false);
  ASSERT_TRUE(g.ok());
  r = LoadOnnxState(std::string(kTestdata) + "resnet18_structure.onnx", &*g);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              ::testing::HasSubstr("tensor 'conv1.weight' has 0 values for "
                                   "type f32[64,3,7,7] (9408 elements)"));
  // Files that are missing or not ONNX.
  r = LoadOnnxState("/nonexistent/model.onnx", &*g);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              ::testing::HasSubstr("cannot open '/nonexistent/model.onnx'"));
  r = LoadOnnxState(std::string(kTestdata) + "reference.txt", &*g);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("not an ONNX model"));
}

}  // namespace
}  // namespace adc
