#include "models/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "codegen/compile.h"
#include "graph/serialize.h"

namespace adc::train {
namespace {

absl::Status FromRt(const rt::Status& s) {
  return s.ok() ? absl::OkStatus() : absl::InternalError(s.message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<rt::Module>> CompileAndLoad(
    const Graph& graph, const std::string& artifact_path) {
  absl::Status compiled = CompileToSharedLibrary(graph, artifact_path);
  if (!compiled.ok()) return compiled;
  rt::StatusOr<std::unique_ptr<rt::Module>> m = rt::Module::Load(artifact_path);
  if (!m.ok()) return FromRt(m.status());
  return std::move(*m);
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const Graph& step_graph, const TrainStep& step,
    const std::string& artifact_path) {
  std::unique_ptr<Trainer> t(new Trainer());
  absl::StatusOr<std::unique_ptr<rt::Module>> m =
      CompileAndLoad(step_graph, artifact_path);
  if (!m.ok()) return m.status();
  t->module_ = *std::move(m);
  t->graph_ = step_graph;
  t->step_ = step;
  for (const auto& [param, output] : step.updates) {
    const rt::ArgSpec* spec = nullptr;
    for (const rt::ArgSpec& a : t->module_->signature().parameters) {
      if (a.name == param) spec = &a;
    }
    if (spec == nullptr) {
      return absl::InternalError(
          absl::StrCat("the compiled step has no parameter '", param, "'"));
    }
    rt::Tensor value(spec->dtype, spec->dims);
    std::memcpy(value.data(), spec->default_data, value.size_bytes());
    t->next_.emplace_back(spec->dtype, spec->dims);
    t->current_.push_back(std::move(value));
  }
  return t;
}

absl::StatusOr<double> Trainer::Step(
    const std::map<std::string, rt::ConstBuffer>& batch) {
  std::map<std::string, rt::ConstBuffer> inputs = batch;
  std::map<std::string, rt::Buffer> outputs;
  for (size_t k = 0; k < step_.updates.size(); ++k) {
    inputs[step_.updates[k].first] = current_[k].buffer();
    outputs[step_.updates[k].second] = next_[k].buffer();
  }
  rt::Tensor loss(rt::DType::kF32, {});
  for (const rt::ArgSpec& a : module_->signature().outputs) {
    if (a.name == step_.loss) loss = rt::Tensor(a.dtype, a.dims);
  }
  outputs[step_.loss] = loss.buffer();
  absl::Status run = FromRt(module_->Run(inputs, outputs));
  if (!run.ok()) return run;
  std::swap(current_, next_);
  return loss.dtype() == rt::DType::kF64 ? *loss.data_as<double>()
                                         : *loss.data_as<float>();
}

absl::Status Trainer::Save(const std::string& path) const {
  Graph g = graph_;
  for (size_t k = 0; k < step_.updates.size(); ++k) {
    const ValueId id = *g.Find(step_.updates[k].first);
    const TensorType type = g.type(id);
    absl::StatusOr<Tensor> value = Tensor::FromBytes(
        type,
        absl::MakeConstSpan(static_cast<const uint8_t*>(current_[k].data()),
                            current_[k].size_bytes()));
    if (!value.ok()) return value.status();
    g.mutable_node(id).attrs.Set("value", *std::move(value));
  }
  return SaveGraph(g, path);
}

absl::Status Trainer::Restore(const std::string& path) {
  absl::StatusOr<Graph> g = LoadGraph(path);
  if (!g.ok()) return g.status();
  for (size_t k = 0; k < step_.updates.size(); ++k) {
    const std::string& name = step_.updates[k].first;
    std::optional<ValueId> id = g->Find(name);
    if (!id || g->node(*id).op != OpKind::kParameter) {
      return absl::NotFoundError(absl::StrCat(
          "checkpoint '", path, "' has no parameter '", name, "'"));
    }
    const Tensor& value = g->node(*id).attrs.GetTensor("value");
    const std::vector<uint8_t> bytes = value.ToBytes();
    if (bytes.size() != current_[k].size_bytes() ||
        value.type() != graph_.type(*graph_.Find(name))) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint '", path, "': parameter '", name, "' is ",
                       value.type().ToString(), ", the model's is ",
                       graph_.type(*graph_.Find(name)).ToString()));
    }
    std::memcpy(current_[k].data(), bytes.data(), bytes.size());
  }
  return absl::OkStatus();
}

std::map<std::string, rt::ConstBuffer> Trainer::Values() const {
  std::map<std::string, rt::ConstBuffer> values;
  for (size_t k = 0; k < step_.updates.size(); ++k) {
    values[step_.updates[k].first] = current_[k].buffer();
  }
  return values;
}

absl::StatusOr<double> Accuracy(
    const rt::Module& model,
    const std::map<std::string, rt::ConstBuffer>& values, const Dataset& data,
    int64_t batch) {
  const int64_t features = data.features(), n = data.num;
  const std::vector<float>& x = data.x;
  const std::vector<int64_t>& labels = data.y;
  int64_t correct = 0;
  std::vector<float> xb(batch * features, 0.0f);
  std::vector<int64_t> dims = {batch};
  dims.insert(dims.end(), data.shape.begin(), data.shape.end());
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t m = std::min(batch, n - first);
    std::fill(xb.begin(), xb.end(), 0.0f);
    std::copy(x.begin() + first * features, x.begin() + (first + m) * features,
              xb.begin());
    std::map<std::string, rt::ConstBuffer> inputs;
    for (const auto& [name, buffer] : values) {
      for (const rt::ArgSpec& a : model.signature().parameters) {
        if (a.name == name) inputs[name] = buffer;
      }
    }
    inputs["x"] = rt::ConstBuffer::Of(xb, dims);
    rt::Tensor logits(rt::DType::kF32, {batch, 0});
    for (const rt::ArgSpec& a : model.signature().outputs) {
      if (a.name == "logits") logits = rt::Tensor(a.dtype, a.dims);
    }
    absl::Status run = FromRt(model.Run(inputs, {{"logits", logits.buffer()}}));
    if (!run.ok()) return run;
    const int64_t classes = logits.dims()[1];
    const float* l = logits.data_as<float>();
    for (int64_t i = 0; i < m; ++i) {
      const int64_t best =
          std::max_element(l + i * classes, l + (i + 1) * classes) -
          (l + i * classes);
      correct += best == labels[first + i];
    }
  }
  return static_cast<double>(correct) / n;
}

absl::Status TrainEpoch(Trainer& trainer, const Dataset& data, int64_t batch,
                        int64_t steps, std::mt19937& rng, Progress& progress,
                        PlotData& loss_curve) {
  std::vector<int64_t> order(data.num);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> x_dims = {batch};
  x_dims.insert(x_dims.end(), data.shape.begin(), data.shape.end());
  std::vector<float> x;
  std::vector<int64_t> y;
  double n = loss_curve.x.empty() ? 0 : loss_curve.x.back();
  for (int64_t s = 0; s < steps; ++s) {
    Gather(data, order, s * batch, batch, &x, &y);
    absl::StatusOr<double> loss =
        trainer.Step({{"x", rt::ConstBuffer::Of(x, x_dims)},
                      {"y", rt::ConstBuffer::Of(y, {batch})}});
    if (!loss.ok()) return loss.status();
    progress.Update(s + 1, *loss);
    loss_curve.x.push_back(++n);
    loss_curve.curves[0].push_back(*loss);
  }
  progress.Finish();
  return absl::OkStatus();
}

PlotData LossCurve(const std::string& title) {
  PlotData curve;
  curve.title = title;
  curve.x_label = "step";
  curve.names = {"loss"};
  curve.curves.resize(1);
  return curve;
}

absl::Status SaveRun(const Trainer& trainer, const PlotData& loss_curve,
                     const std::string& out_dir, const std::string& label) {
  const std::string checkpoint = out_dir + "/" + label + "_checkpoint.pb";
  absl::Status saved = trainer.Save(checkpoint);
  if (!saved.ok()) return saved;
  std::printf("checkpoint (parameters and optimizer state): %s\n",
              checkpoint.c_str());
  const std::string plot = out_dir + "/" + label + "_loss.svg";
  absl::Status drawn = DrawPlot(loss_curve, plot);
  if (!drawn.ok()) return drawn;
  std::printf("loss curve: %s\n", plot.c_str());
  return absl::OkStatus();
}

std::string OutputDir(int argc, char** argv) {
  if (argc < 2) return ".";
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  std::string dir = argv[1];
  if (wd != nullptr && dir[0] != '/') dir = std::string(wd) + "/" + dir;
  // Created if missing (a failure shows when the first file is written).
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  return dir;
}

Progress::Progress(int64_t total_steps, int64_t examples_per_step)
    : total_(total_steps),
      per_step_(examples_per_step),
      // mpirun hands its processes a pseudo-terminal even when its own
      // output goes to a file: plain lines there.
      terminal_(isatty(STDOUT_FILENO) != 0 &&
                std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr),
      start_(std::chrono::steady_clock::now()) {}

void Progress::Update(int64_t step, double loss) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  const double rate = seconds > 0 ? step * per_step_ / seconds : 0;
  const double left = step > 0 ? seconds * (total_ - step) / step : 0;
  const std::string stats =
      absl::StrFormat("step %d/%d  loss %.4f  %.0f examples/s  %ds left", step,
                      total_, loss, rate, static_cast<int>(left + 0.5));
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled =
        static_cast<int>(kWidth * step / std::max<int64_t>(1, total_));
    std::printf("\r[%s%s] %s", std::string(filled, '#').c_str(),
                std::string(kWidth - filled, '.').c_str(), stats.c_str());
    std::fflush(stdout);
  } else if (step == total_ ||
             step - last_plain_ >= std::max<int64_t>(1, total_ / 10)) {
    std::printf("%s\n", stats.c_str());
    last_plain_ = step;
  }
}

void Progress::Finish() {
  if (terminal_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace adc::train
