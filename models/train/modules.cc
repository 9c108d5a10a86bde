#include "models/train/modules.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"

namespace adc::train {
namespace {

// "<name>.<own>", or "<own>" at the root.
std::string Child(const std::string& name, const std::string& own) {
  return name.empty() ? own : absl::StrCat(name, ".", own);
}

// The module's error on the builder: "<Kind> '<name>': <what>".
Value Fail(ModuleContext& ctx, absl::string_view kind, const std::string& name,
           const std::string& what) {
  return ctx.b.Fail(absl::InvalidArgumentError(absl::StrCat(
      kind, name.empty() ? "" : absl::StrCat(" '", name, "'"), ": ", what)));
}

// A module given by a function.
class FnModule : public Module {
 public:
  using Fn = std::function<Value(ModuleContext&, const std::string&, Value)>;
  explicit FnModule(Fn fn) : fn_(std::move(fn)) {}
  Value Build(ModuleContext& ctx, const std::string& name,
              Value x) const override {
    if (!x.valid()) return Value();
    return fn_(ctx, name, x);
  }

 private:
  Fn fn_;
};

ModulePtr Make(FnModule::Fn fn) {
  return std::make_shared<FnModule>(std::move(fn));
}

// An element-wise activation.
ModulePtr Activation(Value (*f)(Value)) {
  return Make(
      [f](ModuleContext&, const std::string&, Value x) { return f(x); });
}

// Checks x's rank and one of its dims (axis counted from the end when
// negative) before a layer builds.
bool Expect(ModuleContext& ctx, absl::string_view kind, const std::string& name,
            Value x, int rank, int axis, int64_t size) {
  const int a = axis < 0 ? x.rank() + axis : axis;
  if ((rank > 0 && x.rank() != rank) || a < 0 || a >= x.rank() ||
      x.dims()[a] != size) {
    Fail(ctx, kind, name,
         absl::StrCat("input ", x.type().ToString(), " (expected ",
                      rank > 0 ? absl::StrCat("rank ", rank, " with ") : "",
                      "dimension ", axis, " of size ", size, ")"));
    return false;
  }
  return true;
}

WindowOptions PoolWindow(int64_t k, int64_t stride, int64_t pad) {
  WindowOptions o;
  o.strides.assign(2, stride > 0 ? stride : k);
  o.pads_low.assign(2, pad);
  o.pads_high.assign(2, pad);
  return o;
}

class SequentialModule : public Module {
 public:
  explicit SequentialModule(
      std::vector<std::pair<std::string, ModulePtr>> children)
      : children_(std::move(children)) {}
  Value Build(ModuleContext& ctx, const std::string& name,
              Value x) const override {
    for (const auto& [own, child] : children_) {
      if (!x.valid()) return Value();
      if (child == nullptr) return Fail(ctx, "Sequential", name, "null child");
      x = child->Build(ctx, Child(name, own), x);
    }
    return x;
  }

 private:
  std::vector<std::pair<std::string, ModulePtr>> children_;
};

}  // namespace

namespace nn {

ModulePtr Linear(int64_t in, int64_t out) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    if (!Expect(ctx, "Linear", name, x, 0, -1, in)) return Value();
    return LinearLayer(ctx.b, name, x, out, ctx.rng);
  });
}

ModulePtr Conv2d(int64_t in, int64_t out, int64_t k,
                 const Conv2dOptions& options) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    if (!Expect(ctx, "Conv2d", name, x, 4, 1, in)) return Value();
    return Conv2dLayer(ctx.b, name, x, out, k, ctx.rng, options);
  });
}

ModulePtr MaxPool2d(int64_t k, int64_t stride, int64_t pad) {
  return Make([=](ModuleContext&, const std::string&, Value x) {
    return MaxPool(x, {k, k}, PoolWindow(k, stride, pad));
  });
}

ModulePtr AvgPool2d(int64_t k, int64_t stride, int64_t pad) {
  return Make([=](ModuleContext&, const std::string&, Value x) {
    WindowOptions o = PoolWindow(k, stride, pad);
    o.count_include_pad = true;
    return AvgPool(x, {k, k}, o);
  });
}

ModulePtr BatchNorm2d(int64_t channels) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    if (!Expect(ctx, "BatchNorm2d", name, x, 4, 1, channels)) return Value();
    return BatchNorm2dLayer(ctx.b, name, x, ctx.training);
  });
}

ModulePtr LayerNorm(Dims normalized_shape) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    const int k = static_cast<int>(normalized_shape.size());
    if (k == 0 || x.rank() < k ||
        !std::equal(normalized_shape.begin(), normalized_shape.end(),
                    x.dims().end() - k)) {
      return Fail(ctx, "LayerNorm", name,
                  absl::StrCat("input ", x.type().ToString(),
                               " does not end in the normalized shape ",
                               DimsToString(normalized_shape)));
    }
    const TensorType type{x.dtype(), normalized_shape};
    Value weight =
        ctx.b.Parameter(Child(name, "weight"), Tensor::Filled(type, 1));
    Value bias = ctx.b.Parameter(Child(name, "bias"), Tensor(type));
    return adc::LayerNorm(x, x.rank() - k, weight, bias);
  });
}

ModulePtr Dropout(double p) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    return DropoutLayer(ctx.b, name, x, p, ctx.training, ctx.dropout_seed);
  });
}

ModulePtr ReLU() { return Activation(Relu); }
ModulePtr GELU() {
  return Activation(
      [](Value x) { return x * 0.5 * (1.0 + Erf(x * (1 / std::sqrt(2.0)))); });
}
ModulePtr Tanh() { return Activation(adc::Tanh); }
ModulePtr Sigmoid() { return Activation(adc::Sigmoid); }

ModulePtr Flatten(int64_t start_dim) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    const int64_t s = start_dim < 0 ? start_dim + x.rank() : start_dim;
    if (s < 0 || s >= std::max(x.rank(), 1)) {
      return Fail(ctx, "Flatten", name,
                  absl::StrCat("start_dim ", start_dim, " for input ",
                               x.type().ToString()));
    }
    Dims dims(x.dims().begin(), x.dims().begin() + s);
    dims.push_back(NumElements(Dims(x.dims().begin() + s, x.dims().end())));
    return Reshape(x, dims);
  });
}

ModulePtr Sequential(std::vector<ModulePtr> children) {
  std::vector<std::pair<std::string, ModulePtr>> named;
  for (size_t i = 0; i < children.size(); ++i) {
    named.push_back({std::to_string(i), std::move(children[i])});
  }
  return std::make_shared<SequentialModule>(std::move(named));
}

ModulePtr Sequential(std::vector<std::pair<std::string, ModulePtr>> children) {
  return std::make_shared<SequentialModule>(std::move(children));
}

ModulePtr Residual(ModulePtr body, ModulePtr shortcut) {
  return Make([=](ModuleContext& ctx, const std::string& name, Value x) {
    if (body == nullptr) return Fail(ctx, "Residual", name, "no body");
    Value y = body->Build(ctx, Child(name, "body"), x);
    Value s = shortcut ? shortcut->Build(ctx, Child(name, "shortcut"), x) : x;
    if (!y.valid() || !s.valid()) return Value();
    if (y.type() != s.type()) {
      return Fail(ctx, "Residual", name,
                  absl::StrCat("body gives ", y.type().ToString(),
                               ", shortcut ", s.type().ToString()));
    }
    return y + s;
  });
}

}  // namespace nn

absl::StatusOr<Graph> BuildClassifier(const Module& model,
                                      const std::string& graph_name,
                                      const Dims& x_dims, uint32_t seed,
                                      bool training) {
  if (x_dims.empty()) {
    return absl::InvalidArgumentError("the input needs a batch dimension");
  }
  GraphBuilder b(graph_name);
  std::mt19937 rng(seed);
  ModuleContext ctx{b, rng, training, seed};
  Value logits = model.Build(ctx, "", b.Input("x", DType::kF32, x_dims));
  if (!b.ok()) return b.status();
  if (!logits.valid()) {
    return absl::InternalError("the model gave no value and no error");
  }
  if (logits.rank() != 2 || logits.dims()[0] != x_dims[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model gives ", logits.type().ToString(),
                     "; a classifier gives [batch, classes]"));
  }
  ClassifierOutputs(b, logits, training);
  return b.Build();
}

}  // namespace adc::train
