// ONNX's window ops: Conv, ConvTranspose, MaxPool, AveragePool,
// GlobalAveragePool and GlobalMaxPool, mapped to the builder's compositions
// (graph/nn.cc). MaxPool's second output (Indices) is unsupported.
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "graph/builder.h"
#include "tools/onnx/node_ctx.h"

namespace adc::onnx_import {
namespace {

// The attributes ONNX window ops share (auto_pad, pads, strides,
// dilations), for `spatial` axes. nullopt after recording an error.
std::optional<WindowOptions> Window(NodeCtx& c, int spatial) {
  WindowOptions o;
  o.strides = c.OptInts("strides").value_or(std::vector<int64_t>());
  o.dilations = c.OptInts("dilations").value_or(std::vector<int64_t>());
  const std::string auto_pad = c.Str("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER") {
    o.same = WindowOptions::Same::kUpper;
  } else if (auto_pad == "SAME_LOWER") {
    o.same = WindowOptions::Same::kLower;
  } else if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    c.Error("auto_pad '", auto_pad,
            "' is not one of NOTSET, SAME_UPPER, "
            "SAME_LOWER, VALID");
    return std::nullopt;
  }
  if (std::optional<std::vector<int64_t>> pads = c.OptInts("pads")) {
    if (static_cast<int>(pads->size()) != 2 * spatial) {
      c.Error("pads has ", pads->size(), " values for ", spatial,
              " spatial axes");
      return std::nullopt;
    }
    if (auto_pad == "NOTSET") {
      o.pads_low.assign(pads->begin(), pads->begin() + spatial);
      o.pads_high.assign(pads->begin() + spatial, pads->end());
    }
  }
  if (!c.ok()) return std::nullopt;
  return o;
}

int Spatial(NodeCtx& c, Value x) {
  if (x.rank() < 3) {
    c.Error("input ", x.type().ToString(),
            " has no spatial axes (expected "
            "[N, C, spatial...])");
    return 0;
  }
  return x.rank() - 2;
}

// Conv(X, W, B?): group, kernel_shape (checked against W).
Outs ImportConv(NodeCtx& c) {
  Value x = c.In(0), w = c.In(1);
  const int spatial = Spatial(c, x);
  if (spatial == 0) return {};
  std::optional<WindowOptions> o = Window(c, spatial);
  if (!o) return {};
  std::optional<Value> bias;
  if (c.Has(2)) bias = c.In(2);
  return {Conv(x, w, bias, *o, c.Int("group", 1))};
}

// ConvTranspose(X, W, B?): output_padding, or output_shape (from which the
// pads follow, as the ONNX definition computes them).
Outs ImportConvTranspose(NodeCtx& c) {
  Value x = c.In(0), w = c.In(1);
  const int spatial = Spatial(c, x);
  if (spatial == 0) return {};
  std::optional<WindowOptions> o = Window(c, spatial);
  if (!o) return {};
  std::vector<int64_t> out_pad =
      c.OptInts("output_padding").value_or(std::vector<int64_t>(spatial, 0));
  std::vector<int64_t> stride =
      o->strides.empty() ? std::vector<int64_t>(spatial, 1) : o->strides;
  std::vector<int64_t> dil =
      o->dilations.empty() ? std::vector<int64_t>(spatial, 1) : o->dilations;
  std::optional<std::vector<int64_t>> out_shape = c.OptInts("output_shape");
  const bool same = o->same != WindowOptions::Same::kNo;
  if (out_shape || same) {
    if (!out_shape) {
      out_shape.emplace();
      for (int a = 0; a < spatial; ++a) {
        out_shape->push_back(x.dims()[2 + a] * stride[a]);
      }
    }
    if (static_cast<int>(out_shape->size()) != spatial ||
        static_cast<int>(out_pad.size()) != spatial ||
        static_cast<int>(stride.size()) != spatial ||
        static_cast<int>(dil.size()) != spatial || w.rank() != spatial + 2) {
      return c.Error(
          "output_shape, output_padding, strides and dilations "
          "need one value per spatial axis");
    }
    o->pads_low.assign(spatial, 0);
    o->pads_high.assign(spatial, 0);
    for (int a = 0; a < spatial; ++a) {
      const int64_t total = stride[a] * (x.dims()[2 + a] - 1) + out_pad[a] +
                            (w.dims()[2 + a] - 1) * dil[a] + 1 -
                            (*out_shape)[a];
      // As ONNX's reference (Python's floor division: a negative total
      // pads at the end by cropping less, like output_padding).
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      const bool upper = o->same == WindowOptions::Same::kUpper;
      o->pads_low[a] = upper ? half : total - half;
      o->pads_high[a] = total - o->pads_low[a];
    }
    o->same = WindowOptions::Same::kNo;
  }
  std::optional<Value> bias;
  if (c.Has(2)) bias = c.In(2);
  return {ConvTranspose(x, w, bias, *o, c.Int("group", 1), out_pad)};
}

// MaxPool(X): kernel_shape, ceil_mode; the Indices output is unsupported.
Outs ImportMaxPool(NodeCtx& c) {
  Value x = c.In(0);
  if (c.Wants(1)) {
    return c.Fail(
        absl::UnimplementedError("MaxPool's Indices output is not supported"));
  }
  if (c.Int("storage_order", 0) != 0) {
    return c.Fail(absl::UnimplementedError(
        "MaxPool with storage_order 1 is not supported"));
  }
  const int spatial = Spatial(c, x);
  if (spatial == 0) return {};
  std::optional<WindowOptions> o = Window(c, spatial);
  if (!o) return {};
  o->ceil_mode = c.Int("ceil_mode", 0) != 0;
  return {MaxPool(x, c.RequiredInts("kernel_shape"), *o)};
}

// AveragePool(X): kernel_shape, ceil_mode, count_include_pad.
Outs ImportAveragePool(NodeCtx& c) {
  Value x = c.In(0);
  const int spatial = Spatial(c, x);
  if (spatial == 0) return {};
  std::optional<WindowOptions> o = Window(c, spatial);
  if (!o) return {};
  o->ceil_mode = c.Int("ceil_mode", 0) != 0;
  o->count_include_pad = c.Int("count_include_pad", 0) != 0;
  return {AvgPool(x, c.RequiredInts("kernel_shape"), *o)};
}

Outs ImportGlobalAveragePool(NodeCtx& c) { return {GlobalAvgPool(c.In(0))}; }
Outs ImportGlobalMaxPool(NodeCtx& c) { return {GlobalMaxPool(c.In(0))}; }

}  // namespace

std::vector<OnnxOpEntry> WindowOnnxOps() {
  return {
      {"Conv", {ImportConv, 2}},
      {"ConvTranspose", {ImportConvTranspose, 2}},
      {"MaxPool", {ImportMaxPool, 1}},
      {"AveragePool", {ImportAveragePool, 1}},
      {"GlobalAveragePool", {ImportGlobalAveragePool, 1}},
      {"GlobalMaxPool", {ImportGlobalMaxPool, 1}},
  };
}

}  // namespace adc::onnx_import
