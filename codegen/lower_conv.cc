// Convolutions as products (graph/ops/linalg.cc states the op's math): per
// group g, with the batch and output pixels flattened into the columns,
//   c[g, o, (n, p)] = sum_{(c, k)} a[g, o, (c, k)] * b[g, (c, k), (n, p)]
// where a is the weights (w[g Og + o, c, k], copied once as rows) and b the
// input's windows (im2col: xd[n, g Cg + c, p s + k rd - lo], zero in the
// padding and the lhs dilation's holes). b is never stored whole: the
// product's packing gathers each panel of columns from x as it needs it
// (lower_matmul.cc's schedule), so a convolution runs at the speed of the
// register-blocked matmul plus one pass over its windows per panel.
// Flattening (n, p) into columns keeps the vector lanes full when images
// are small (7x7 and below) or the "pixels" are a kernel's (the weight
// gradient: p ranges over the kernel, n over the input channels).
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"

namespace adc::codegen::lowering {
namespace {

// Splits a flat row-major index over `dims` into one index per axis.
std::vector<Expr> Unflatten(Expr flat, const Dims& dims) {
  std::vector<Expr> index(dims.size());
  for (int a = static_cast<int>(dims.size()) - 1; a >= 0; --a) {
    const int d = static_cast<int>(dims[a]);
    index[a] = a == 0 ? flat : flat % d;
    flat = flat / d;
  }
  return index;
}

// A product's a operand read from rows stored first (Lowered::a_rows):
// a(row, term, batch...) = rows(term, row, batch[axis]), batch[axis] the
// group.
std::function<Expr(Expr, Expr, const std::vector<Expr>&)> FromRows(Func rows,
                                                                   int axis) {
  return [rows, axis](Expr row, Expr term, const std::vector<Expr>& batch) {
    return rows(term, row, batch[axis]);
  };
}

// Terms per unrolled step of a convolution's sum over (c, k...) read in
// place (ProductShape::k_step): all the kernel's taps when they are few,
// else a row of them; the offsets into the input are then constants
// within a step, where each term had divided by the kernel's extents
// (ResNet-18's 64->64 at 56x56, one thread: 10.4 -> 9.8 ms).
int64_t KernelStep(const Dims& kernel) {
  const int64_t taps = NumElements(kernel);
  return taps <= 16 ? taps : kernel.back();
}

// A conv node's operands, shapes and attributes.
struct ConvParts {
  ConvParts(const Graph& g, const Node& node)
      : x(node.inputs[0]),
        w(node.inputs[1]),
        xd(g.type(x).dims),
        yd(node.type.dims),
        kernel(g.type(w).dims.begin() + 2, g.type(w).dims.end()),
        spatial(static_cast<int>(xd.size()) - 2),
        strides(node.attrs.GetInts("strides")),
        low(node.attrs.GetInts("pads_low")),
        lhs(node.attrs.GetInts("lhs_dilation")),
        rhs(node.attrs.GetInts("rhs_dilation")),
        groups(node.attrs.GetInt("groups")),
        cg(g.type(w).dims[1]),
        og(g.type(w).dims[0] / groups) {}
  bool dilated_input() const {
    for (int64_t d : lhs) {
      if (d > 1) return true;
    }
    return false;
  }
  ValueId x, w;
  Dims xd, yd, kernel;
  int spatial;
  std::vector<int64_t> strides, low, lhs, rhs;
  int64_t groups, cg, og;
};

// (n, ch, i...): an element of an N x C x spatial tensor.
Index SpatialIndex(Expr n, Expr ch, const std::vector<Expr>& i) {
  Index index = {std::move(n), std::move(ch)};
  index.insert(index.end(), i.begin(), i.end());
  return index;
}

// The padded planes a stride-1 convolution reads: per spatial axis its
// outputs plus the dilated kernel's reach (Hp_s), the row-major strides
// of a flat position over them, and their product P.
// `shared`: consecutive rows (and planes) share their zero padding, the
// high pad of one being the low pad of the next: Hp_s is shorter by
// min(low, high, reach), and windows that run past a row's end read the
// next row's first columns, zeros. (The input gradient of an unpadded 3x3
// convolution, padded by 2 on each side: 13x13 outputs on 13x13 planes
// instead of 15x15; ResNet-18's 14x14 on 15x15 instead of 16x16.)
struct Planes {
  Planes(const ConvParts& c, bool shared)
      : extents(c.spatial), strides(c.spatial) {
    for (int s = c.spatial - 1; s >= 0; --s) {
      const int64_t reach = (c.kernel[s] - 1) * c.rhs[s];
      extents[s] = c.yd[2 + s] + reach;
      if (shared) {
        // At most the reach: outputs keep positions of their own (a 1x1
        // kernel's padding is not shared).
        const int64_t high = extents[s] - c.low[s] - c.xd[2 + s];
        extents[s] -= std::max<int64_t>(0, std::min({c.low[s], high, reach}));
      }
      strides[s] = size;
      size *= extents[s];
    }
  }
  Dims extents;
  std::vector<int64_t> strides;
  int64_t size = 1;
};

// The columns of a stride-1 convolution by planes: flat over the images'
// padded planes (N P positions, panels may span two images), or per image
// its first `span` positions (up to its last output), rounded up to whole
// panels: one product per image, no panel spanning two. Per image when
// that is fewer columns: 7x7 outputs on 9x9 planes are 61 positions, one
// panel of 64 where the planes are 81 (ResNet-18's layer4).
struct PlaneColumns {
  PlaneColumns(const ConvParts& c, const Planes& p,
               const Halide::Target& target, Halide::Type t) {
    const int64_t batch = c.yd[0];
    const int64_t flat_cols = PlanMatMul(c.og, batch * p.size, target, t).cols;
    int64_t span = 1;
    for (int s = 0; s < c.spatial; ++s) {
      span += (c.yd[2 + s] - 1) * p.strides[s];
    }
    const int64_t image_cols = PlanMatMul(c.og, span, target, t).cols;
    per_image_columns = p.size;
    n = batch * p.size;
    total = n;
    if (flat_cols > 0) {
      cols = flat_cols;
      total = (total + flat_cols - 1) / flat_cols * flat_cols;
    }
    if (image_cols > 0) {
      const int64_t rounded = (span + image_cols - 1) / image_cols * image_cols;
      if (rounded < p.size && batch * rounded < total) {
        per_image = true;
        per_image_columns = rounded;
        n = span;
        total = batch * rounded;
        cols = image_cols;
      }
    }
  }
  bool per_image = false;
  int64_t per_image_columns;  // Columns an image takes.
  int64_t n;                  // The product's columns (per image: span).
  int64_t total;              // All images', rounded up to whole panels.
  int64_t cols = 0;           // The product's panel width.
};

// A conv's columns (n, p...) and terms (c, k...), in chunks when the
// windows of all columns would pass the limit on window elements: Halide
// 14's simplifier bounds a packed panel's index over every panel of the
// product, in 32-bit bytes, and code whose bound overflows is dropped as
// unreachable (a 7x7 convolution's input gradient at 4x224x224 did).
struct ConvColumns {
  ConvColumns(const ConvParts& c, const Halide::Target& target, Halide::Type t,
              int64_t limit)
      : columns(c.yd.begin() + 2, c.yd.end()),
        terms(c.kernel),
        pixels(columns) {
    columns.insert(columns.begin(), c.yd[0]);
    terms.insert(terms.begin(), c.cg);
    total = NumElements(columns);
    k = NumElements(terms);
    chunk = total;
    if (total * k > limit) chunk = std::max<int64_t>(64, limit / k / 64 * 64);
    chunks = (total + chunk - 1) / chunk;
    // Fewer columns than a vector (a weight gradient whose "pixels" are a
    // small kernel's, with few input channels) but many channels: the
    // product transposed, rows of windows (stored first: few) times
    // columns of weights, so the channels fill the vectors.
    const int vec = target.natural_vector_size(t);
    transposed = chunks == 1 && total < vec && c.og >= vec;
  }
  Dims columns, terms, pixels;
  int64_t total, k, chunk, chunks;
  bool transposed;
};

}  // namespace

ConvMethod PlanConv(const Graph& g, ValueId id, const Halide::Target& target,
                    int64_t max_window_elements) {
  const ConvParts c(g, g.node(id));
  if (c.dilated_input()) return ConvMethod::kDilatedInput;
  const Halide::Type t = HalideType(g.type(id).dtype);
  const ConvColumns cc(c, target, t, max_window_elements);
  const Dims& pixels = cc.pixels;
  const int64_t k = cc.k, limit = max_window_elements;
  const int vec = target.natural_vector_size(t);
  // Weight gradients (LowerConvWeightsByPlanes): few output pixels,
  // stride and dilation 1, the kernel at least 70% of the padded planes.
  // (Before by pixels, which they also fit when the kernel's rows are long:
  // ResNet-18's 64->64 3x3 weight gradient at 4x56x56 took 18% less CPU time
  // by planes, its 128->128 at 28x28 20% less.)
  auto weights_by_planes = [&] {
    if (c.groups != 1 || NumElements(pixels) > 64) return false;
    for (int s = 0; s < c.spatial; ++s) {
      if (c.strides[s] != 1 || c.rhs[s] != 1) return false;
    }
    const int64_t plane = Planes(c, false).size;
    const int64_t rows = c.yd[0] * NumElements(pixels);
    const MatMulBlock block = PlanMatMul(rows, c.og, target, t);
    const bool tiles = (block.cols > 0 && block.rows >= 4) ||
                       PlanDot(rows, c.og, c.cg * plane, target, t).chunks > 0;
    return NumElements(c.kernel) * 10 >= plane * 7 && tiles &&
           c.cg * plane * c.og <= limit;
  };
  if (cc.chunks == 1 && weights_by_planes()) {
    return ConvMethod::kWeightsByPlanes;
  }
  // By pixels: few output pixels from long kernels (the weight gradient
  // of a convolution, whose "kernel" is dy) where the planes do not apply
  // (a dilated convolution's weight gradient is strided): one product per
  // output pixel, with the batch as columns and the kernel as the sum,
  // read with dense loads along the kernel's rows.
  const MatMulBlock by_pixels = PlanMatMul(c.og, c.yd[0], target, t);
  if (c.groups == 1 && NumElements(pixels) <= 64 && c.kernel.back() >= vec &&
      c.rhs.back() == 1 && by_pixels.cols > 0 && by_pixels.rows >= 6 &&
      k * 2 * c.yd[0] <= limit) {
    return ConvMethod::kByPixels;
  }
  if (cc.transposed || cc.chunks != 1) return ConvMethod::kFlattened;
  // By rows (LowerConvByRows: an output row of whole vectors, or nearly)
  // or by planes (LowerConvByPlanes: stride 1 on every axis, and at least
  // 70% of the columns, the padded planes or per image, outputs),
  // whichever computes fewer columns (the same: rows), else flattened.
  // Both read the input with dense loads. (ResNet-18's 64->64 at 56x56,
  // AVX-512, one thread: by rows, 64 columns for 56 outputs, 12.0 ms; by
  // planes, 3264 columns for 3136 per image, 10.0 ms. Its 512->512 at 7x7
  // on whole 9x9 planes, 60%, took 4.85 ms, 4.4 ms flattened; per image,
  // 77%, 4.1 ms.)
  auto by_planes = [&]() -> int64_t {  // Its columns, or 0.
    for (int s = 0; s < c.spatial; ++s) {
      if (c.strides[s] != 1) return 0;
    }
    const PlaneColumns pc(c, Planes(c, true), target, t);
    const MatMulBlock block = PlanMatMul(c.og, pc.n, target, t);
    const bool fits = NumElements(pixels) * 10 >= pc.per_image_columns * 7 &&
                      block.cols > 0 && block.rows >= 4 &&
                      k * pc.total <= limit;
    return fits ? pc.total : 0;
  };
  const int64_t planes_columns = by_planes();
  const int64_t last = pixels.back();
  const MatMulBlock by_rows = PlanMatMul(c.og, last, target, t);
  if (last >= vec && by_rows.cols > 0 && by_rows.rows >= 6 &&
      k * last * 64 <= limit) {
    const int64_t rows_columns = cc.total / last *
                                 ((last + by_rows.cols - 1) / by_rows.cols) *
                                 by_rows.cols;
    if (planes_columns == 0 || rows_columns <= planes_columns) {
      return ConvMethod::kByRows;
    }
  }
  return planes_columns > 0 ? ConvMethod::kByPlanes : ConvMethod::kFlattened;
}

void Lowering::LowerConv(ValueId id) {
  switch (PlanConv(g_, id, target_, limits_.max_conv_window_elements)) {
    case ConvMethod::kDilatedInput:
      return LowerTransposedConv(id);
    case ConvMethod::kWeightsByPlanes:
      return LowerConvWeightsByPlanes(id);
    case ConvMethod::kByPixels:
      return LowerConvByPixels(id);
    case ConvMethod::kByRows:
      return LowerConvByRows(id);
    case ConvMethod::kByPlanes:
      return LowerConvByPlanes(id);
    case ConvMethod::kFlattened:
      break;
  }
  const ConvParts c(g_, g_.node(id));
  const Halide::Type t = TypeOf(id);
  const ConvColumns cc(c, target_, t, limits_.max_conv_window_elements);
  const Dims& pixels = cc.pixels;
  const Dims& columns = cc.columns;
  const Dims& terms = cc.terms;
  const int64_t total_columns = cc.total, k = cc.k, chunk = cc.chunk;
  const int64_t chunks = cc.chunks;
  const bool transposed = cc.transposed;
  // The window element (c, k) = term of column (n, p) = col of chunk
  // `part`, group g.
  auto window = [&, this](Expr term, Expr col, Expr part, Expr g) {
    // The last chunk may pass the last column: zeros, never stored.
    col = part * static_cast<int>(chunk) + col;
    Expr inside = col < static_cast<int>(total_columns);
    col = Halide::min(col, static_cast<int>(total_columns - 1));
    const std::vector<Expr> ci = Unflatten(col, columns);  // n, p...
    const std::vector<Expr> ti = Unflatten(term, terms);   // c, k...
    Index xi = {ci[0], g * static_cast<int>(c.cg) + ti[0]};
    for (int s = 0; s < c.spatial; ++s) {
      const int n = static_cast<int>(c.xd[2 + s]);
      Expr q = ci[1 + s] * static_cast<int>(c.strides[s]) +
               ti[1 + s] * static_cast<int>(c.rhs[s]) -
               static_cast<int>(c.low[s]);
      inside = inside && q >= 0 && q < n;
      xi.push_back(Halide::clamp(q, 0, n - 1));
    }
    return Halide::select(inside, At(c.x, xi), Const(t, 0));
  };
  // The weight of term (c, k) for output channel o of group g.
  auto weight = [&, this](Expr term, Expr o, Expr g) {
    Index wi = {g * static_cast<int>(c.og) + o};
    for (const Expr& e : Unflatten(term, terms)) wi.push_back(e);
    return At(c.w, wi);
  };
  ProductShape shape;
  shape.m = transposed ? total_columns : c.og;
  shape.n = transposed ? c.og : chunk;
  shape.k = k;
  shape.batch = {chunks, c.groups};
  shape.b_transposed = transposed;  // Weights: contiguous along terms.
  Lowered& l = values_[id];
  // The rows of a: the weights (WeightRows), or transposed the windows,
  // stored first: a_rows(kk, row, g) (there is one chunk).
  Func rows;
  if (transposed) {
    Var kk("ak"), r("ar"), g("ag");
    rows = Func(absl::StrCat("a_rows", id));
    rows(kk, r, g) = window(kk, r, 0, g);
    l.a_rows = rows;
  } else {
    rows = WeightRows(id);
  }
  const auto a = FromRows(rows, 1);
  auto b = [&](Expr term, Expr col, const std::vector<Expr>& batch) {
    return transposed ? weight(term, col, batch[1])
                      : window(term, col, batch[0], batch[1]);
  };
  DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  // y[n, o, p...] = product[part][g = o / Og][o % Og][(n, p)] (transposed:
  // [(n, p)][o % Og]).
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  Expr col = l.vars[0];
  for (int s = 0; s < c.spatial; ++s) {
    col = col * static_cast<int>(pixels[s]) + l.vars[2 + s];
  }
  Expr o = l.vars[1], row = o, group = 0;
  if (c.groups > 1) {
    row = o % static_cast<int>(c.og);
    group = o / static_cast<int>(c.og);
  }
  Expr chunk_index = 0;
  if (chunks > 1) {
    chunk_index = col / static_cast<int>(chunk);
    col = col % static_cast<int>(chunk);
  }
  if (transposed) std::swap(col, row);
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = l.product(col, row, group, chunk_index);
  // [o][(n, p)] or, transposed, [(n, p)][o]; one chunk, a vector of o
  // within one group.
  l.copy_along_channels =
      chunks == 1 &&
      (c.groups == 1 || c.og % target_.natural_vector_size(TypeOf(id)) == 0);
}

Expr Lowering::PaddedX(ValueId id, Expr n, Expr ch,
                       const std::vector<Expr>& i) {
  const ConvParts c(g_, g_.node(id));
  Index xi = {n, ch};
  Expr inside = Halide::Internal::const_true();
  for (int s = 0; s < c.spatial; ++s) {
    const int x = static_cast<int>(c.xd[2 + s]);
    Expr q = i[s] - static_cast<int>(c.low[s]);
    inside = inside && q >= 0 && q < x;
    xi.push_back(Halide::clamp(q, 0, x - 1));
  }
  return Halide::select(inside, At(c.x, xi), Const(TypeOf(id), 0));
}

// A conv's input zero-padded: xpad[n, ch, i...] = x[n, ch, i - lo] inside,
// else 0, for every i its consumers read (Halide infers the extent).
Func Lowering::PaddedInput(ValueId id) {
  std::vector<Var> xv = MakeVars(g_.type(id).rank());  // n, ch, i...
  Func xpad(absl::StrCat("xpad", id));
  xpad(HalideVars(xv)) = PaddedX(id, xv[0], xv[1], {xv.begin() + 2, xv.end()});
  return xpad;
}

FlatSource Lowering::FlatPlanes(const std::string& name, int64_t outer,
                                const Dims& planes, int64_t reads,
                                const std::vector<PlaneBox>& box,
                                const FlatValue& value) {
  const int S = static_cast<int>(planes.size());
  const int64_t plane = NumElements(planes);
  const std::vector<int64_t> pstride = RowMajorStrides(planes);
  FlatSource src;
  src.row = planes.back();
  src.box_row = box.back().extent;
  src.box_size = 1;
  for (const PlaneBox& bx : box) src.box_size *= bx.extent;
  src.extent =
      (std::max(reads, outer * plane) + src.row - 1) / src.row * src.row;
  // Zero, then the box of each plane written over it: where the copy's
  // lanes crossed the box's edge (padding, a row past the data), its
  // clamped index was a gather of scalar loads, 2.4-4.6% of the small
  // CNN's step per flat copy; written as an update, a row of the box is
  // one run of dense (at its end masked) loads and stores.
  std::vector<Halide::Range> ranges;  // Innermost first, then a.
  for (int s = S - 1; s >= 0; --s) {
    ranges.emplace_back(0, static_cast<int>(box[s].extent));
  }
  ranges.emplace_back(0, static_cast<int>(outer));
  src.rdom = RDom(ranges, absl::StrCat(name, "_r"));
  std::vector<Expr> q(S);
  Expr at = src.rdom[S] * static_cast<int>(plane);
  for (int s = 0; s < S; ++s) {
    const Expr r = src.rdom[S - 1 - s];
    q[s] = r + static_cast<int>(box[s].source);
    at += (r + static_cast<int>(box[s].start)) * static_cast<int>(pstride[s]);
  }
  Var f("flat_f"), b("flat_b");
  src.func = Func(name);
  const Expr v = value(src.rdom[S], b, q);
  src.func(f, b) = Const(v.type(), 0);
  src.func(at, b) = v;
  return src;
}

std::vector<Lowering::PlaneBox> Lowering::PaddedBox(ValueId id,
                                                    const Dims& planes) {
  const ConvParts c(g_, g_.node(id));
  std::vector<PlaneBox> box(c.spatial);
  for (int s = 0; s < c.spatial; ++s) {
    // x's elements 0 <= q < x at plane position q + low, within the plane.
    const int64_t first = std::max<int64_t>(0, -c.low[s]);
    box[s].start = c.low[s] + first;
    box[s].source = first;
    box[s].extent = std::max<int64_t>(
        0, std::min(c.xd[2 + s] - first, planes[s] - box[s].start));
  }
  return box;
}

// The rows of a conv's product: the weights,
// a_rows(term, o, g) = w[g Og + o, term = (c, k...)], which is w's own
// layout: read in place when w is a buffer (ResNet-18's 512->512 weights
// had been copied, 9.4 MB with an index division per element, about 13%
// of each such convolution's time); else a copy stored first
// (Lowered::a_rows).
Func Lowering::WeightRows(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  Dims terms = c.kernel;
  terms.insert(terms.begin(), c.cg);
  Var kk("ak"), r("ar"), g("ag");
  Func rows(absl::StrCat("a_rows", id));
  if (std::optional<Halide::ImageParam> flat = FlatView(c.w)) {
    rows(kk, r, g) = (*flat)((g * static_cast<int>(c.og) + r) *
                                 static_cast<int>(NumElements(terms)) +
                             kk);
    return rows;
  }
  Index wi = {g * static_cast<int>(c.og) + r};
  for (const Expr& e : Unflatten(kk, terms)) wi.push_back(e);
  rows(kk, r, g) = At(c.w, wi);
  Lowered& l = values_[id];
  l.a_rows = rows;
  l.a_rows_run = NumElements(c.kernel);
  return rows;
}

// One product per output row: for each group g and each row r = (n, p_0,
// ..., p_{S-2}) of the output (all spatial axes but the last),
//   c[r, g, o, q] = sum_{(c, k)} w[g Og + o, c, k] xp[n, g Cg + c, (p, q) s
//                   + k rd]
// where xp is x zero-padded by pads_low before and enough after for every
// column of the last panel (stored first, so that the packing reads runs
// of q with dense loads and no bounds tests).
// (AVX-512, 2 threads, ResNet-18's convolutions at batch 4; see README.)
void Lowering::LowerConvByRows(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  const int S = c.spatial;
  const Dims pixels(c.yd.begin() + 2, c.yd.end());
  const int64_t row = pixels.back();
  Dims terms = c.kernel;  // (c, k...)
  terms.insert(terms.begin(), c.cg);
  Dims rows = {c.yd[0]};  // (n, p_0, ..., p_{S-2})
  rows.insert(rows.end(), pixels.begin(), pixels.end() - 1);
  Lowered& l = values_[id];
  l.b_source = PaddedInput(id);
  Func xp = l.b_source;
  auto window = [&, xp](Expr term, Expr col, Expr r, Expr g) {
    const std::vector<Expr> ri = Unflatten(r, rows);      // n, p...
    const std::vector<Expr> ti = Unflatten(term, terms);  // c, k...
    std::vector<Expr> xi = {ri[0], g * static_cast<int>(c.cg) + ti[0]};
    for (int s = 0; s < S; ++s) {
      Expr p = s + 1 < S ? ri[1 + s] : col;
      xi.push_back(p * static_cast<int>(c.strides[s]) +
                   ti[1 + s] * static_cast<int>(c.rhs[s]));
    }
    return xp(std::vector<Expr>(xi.rbegin(), xi.rend()));
  };
  ProductShape shape;
  shape.m = c.og;
  shape.n = row;
  shape.k = NumElements(terms);
  shape.batch = {NumElements(rows), c.groups};
  shape.b_columns_padded = true;
  // Read in place when the columns are dense (stride 1 along the row); a
  // strided row is packed once per panel, its lanes deinterleaved once.
  shape.b_in_place = c.strides.back() == 1;
  shape.k_step = KernelStep(c.kernel);
  const auto a = FromRows(WeightRows(id), 1);
  auto b = [&](Expr term, Expr col, const std::vector<Expr>& batch) {
    return window(term, col, batch[0], batch[1]);
  };
  DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  // y[n, o, p..., q] = product[r = (n, p...)][g = o / Og][o % Og][q].
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  Expr r = l.vars[0];
  for (int s = 0; s + 1 < S; ++s) {
    r = r * static_cast<int>(pixels[s]) + l.vars[2 + s];
  }
  Expr o = l.vars[1], out_row = o, group = 0;
  if (c.groups > 1) {
    out_row = o % static_cast<int>(c.og);
    group = o / static_cast<int>(c.og);
  }
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = l.product(l.vars[1 + S], out_row, group, r);
}

// One product per output pixel p (groups 1): with the kernel's last axis
// padded to whole vectors (kw < KWp, zero weights past kw),
//   c[p, o, n] = sum_{(c, k)} w[o, c, k] xp[n, c, p s + k rd]
// a the weights (stored first, with the padding's zeros), b the padded
// input transposed (contiguous along the sum): runs of the last kernel
// axis are dense loads. (The weight gradient of a dilated convolution on
// large images: strided, so not by planes.)
void Lowering::LowerConvByPixels(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  const Halide::Type t = TypeOf(id);
  const int S = c.spatial;
  const int vec = target_.natural_vector_size(t);
  const Dims pixels(c.yd.begin() + 2, c.yd.end());
  const int kw = static_cast<int>(c.kernel.back());
  const int kwp = (kw + vec - 1) / vec * vec;
  Dims terms = c.kernel;  // (c, k..., padded last)
  terms.insert(terms.begin(), c.cg);
  terms.back() = kwp;
  Lowered& l = values_[id];
  l.b_source = PaddedInput(id);
  Func xp = l.b_source;
  auto window = [&, xp](Expr term, Expr col, Expr pixel) {
    const std::vector<Expr> pi = Unflatten(pixel, pixels);
    const std::vector<Expr> ti = Unflatten(term, terms);  // c, k...
    std::vector<Expr> xi = {col, ti[0]};
    for (int s = 0; s < S; ++s) {
      xi.push_back(pi[s] * static_cast<int>(c.strides[s]) +
                   ti[1 + s] * static_cast<int>(c.rhs[s]));
    }
    return xp(std::vector<Expr>(xi.rbegin(), xi.rend()));
  };
  {
    Var kk("ak"), r("ar"), g("ag");
    const std::vector<Expr> ti = Unflatten(kk, terms);
    Index wi = {r};
    for (int s = 0; s <= S; ++s) wi.push_back(ti[s]);
    wi.back() = Halide::min(ti[S], kw - 1);
    l.a_rows = Func(absl::StrCat("a_rows", id));
    l.a_rows(kk, r, g) = Halide::select(ti[S] < kw, At(c.w, wi), Const(t, 0));
  }
  ProductShape shape;
  shape.m = c.og;
  shape.n = c.yd[0];
  shape.k = NumElements(terms);
  shape.batch = {NumElements(pixels), 1};
  shape.b_transposed = true;
  const auto a = FromRows(l.a_rows, 1);
  auto b = [&](Expr term, Expr col, const std::vector<Expr>& batch) {
    return window(term, col, batch[0]);
  };
  DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  // y[n, o, p...] = product[p][0][o][n].
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  Expr p = 0;
  for (int s = 0; s < S; ++s) {
    p = p * static_cast<int>(pixels[s]) + l.vars[2 + s];
  }
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = l.product(l.vars[0], l.vars[1], 0, p);
  l.copy_along_channels = true;
}

// With the input dilated (a transposed convolution: the input gradient of
// a strided one), most window elements are the dilation's zeros, and
// multiplying them would waste ld^S of the work. Instead, per group:
//   t[(o, k), (n, i)] = sum_c w[g Og + o, c, k] x[n, g Cg + c, i]
// (a product over the channels only, x read as it is), then every output
// element sums the taps whose input position q = p s + k rd - lo falls on
// an input element (q = i ld; the "col2im" of GEMM-based convolutions):
//   y[n, g Og + o, p] = sum_k [ld | q, 0 <= q / ld < X] t[(o, k), (n, q / ld)]
// The sum is written out tap by tap (a pure definition, vectorized along
// the last spatial axis) and materialized.
void Lowering::LowerTransposedConv(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  const Dims image(c.xd.begin() + 2, c.xd.end());
  const int64_t taps = NumElements(c.kernel);
  const int64_t pixels = NumElements(image);
  ProductShape shape;
  shape.m = c.og * taps;
  shape.n = c.xd[0] * pixels;
  shape.k = c.cg;
  shape.batch = {c.groups};
  Lowered& l = values_[id];
  l.gathered = true;
  {
    // a_rows(c, (o, k), g) = w[g Og + o, c, k].
    Var ch("ak"), row("ao"), g("ag");
    Index wi = {g * static_cast<int>(c.og) + row / static_cast<int>(taps), ch};
    for (const Expr& e : Unflatten(row % static_cast<int>(taps), c.kernel)) {
      wi.push_back(e);
    }
    l.a_rows = Func(absl::StrCat("a_rows", id));
    l.a_rows(ch, row, g) = At(c.w, wi);
  }
  const auto a = FromRows(l.a_rows, 0);
  auto b = [&, this](Expr term, Expr col, const std::vector<Expr>& batch) {
    Index xi = {col / static_cast<int>(pixels),
                batch[0] * static_cast<int>(c.cg) + term};
    for (const Expr& e : Unflatten(col % static_cast<int>(pixels), image)) {
      xi.push_back(e);
    }
    return At(c.x, xi);
  };
  DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  const Expr o = l.vars[1];
  Expr row = o * static_cast<int>(taps), group = 0;
  if (c.groups > 1) {
    row = (o % static_cast<int>(c.og)) * static_cast<int>(taps);
    group = o / static_cast<int>(c.og);
  }
  const Halide::Type t = TypeOf(id);
  Expr sum = Const(t, 0);
  ops::ForEachIndex(c.kernel, [&](const std::vector<int64_t>& k, int64_t tap) {
    Expr inside = Halide::Internal::const_true();
    Expr col = l.vars[0];
    for (int s = 0; s < c.spatial; ++s) {
      const int n = static_cast<int>(image[s]);
      const int ld = static_cast<int>(c.lhs[s]);
      Expr q = l.vars[2 + s] * static_cast<int>(c.strides[s]) +
               static_cast<int>(k[s] * c.rhs[s] - c.low[s]);
      inside = inside && q >= 0 && q <= (n - 1) * ld;
      if (ld > 1) {
        inside = inside && q % ld == 0;
        q = q / ld;
      }
      col = col * n + Halide::clamp(q, 0, n - 1);
    }
    sum = sum + Halide::select(
                    inside, l.product(col, row + static_cast<int>(tap), group),
                    Const(t, 0));
  });
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = sum;
}

// Stride 1 on every axis: with the input zero-padded to planes of P =
// prod_s Hp_s elements (Hp_s = outputs + the dilated kernel's reach, less
// the zeros rows share: Planes) and
// laid out flat per channel, xf[ch, f] with f = n P + sum_s i_s pstride_s,
// every window element of output f is xf[ch, f + off(k)], off(k) = sum_s
// k_s rd_s pstride_s: per group g,
//   c[g, o, f] = sum_{(c, k)} w[g Og + o, c, k] xf[g Cg + c, f + off(k)]
// over all f < N P, the positions past an output row or plane computed and
// never read. Columns are runs of f read with dense loads whatever the
// image's width (flattened columns gather element by element, rows need
// an output row of whole vectors), for at most 43% more columns. (AVX-512,
// 2 threads, the small CNN's step: its 32->64 3x3 at 13x13 and that
// convolution's input gradient, 15x15 padded planes, 2.05 ms of packing
// (gathered) + 0.83 ms of products -> 0.25 (x flat) + 0.45 + 1.2 ms;
// ResNet-18's 256->256 at 14x14: 3.15 -> 2.85 ms.)
void Lowering::LowerConvByPlanes(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  const Halide::Type t = TypeOf(id);
  const int S = c.spatial;
  const Planes p(c, /*shared=*/true);
  const Dims& planes = p.extents;
  const std::vector<int64_t>& pstride = p.strides;
  const int64_t plane = p.size;
  const int64_t batch = c.yd[0];
  Dims terms = c.kernel;  // (c, k...)
  terms.insert(terms.begin(), c.cg);
  Lowered& l = values_[id];
  // xf(f, ch): f = (n, i...) over the planes; zero outside x (the padding,
  // and f past the last image, which the last panel reads up to the
  // kernel's reach).
  const PlaneColumns pc(c, p, target_, t);
  const bool per_image = pc.per_image;
  const int64_t cols = pc.cols;
  int64_t reach = 0;
  for (int s = 0; s < S; ++s) {
    reach += (c.kernel[s] - 1) * c.rhs[s] * pstride[s];
  }
  const int64_t reads = std::max((batch * plane + cols - 1) / cols * cols,
                                 (batch - 1) * plane + pc.per_image_columns) +
                        reach;
  l.flat_sources.push_back(FlatPlanes(
      absl::StrCat("xflat", id), batch, planes, reads, PaddedBox(id, planes),
      [&](Expr n, Expr ch, const std::vector<Expr>& q) {
        return At(c.x, SpatialIndex(n, ch, q));
      }));
  Func xf = l.flat_sources.back().func;
  // Per image, column col of image n is position n P + col.
  auto window = [&, xf](Expr term, Expr col, Expr g, Expr n) {
    const std::vector<Expr> ti = Unflatten(term, terms);  // c, k...
    Expr off = 0;
    for (int s = 0; s < S; ++s) {
      off += ti[1 + s] * static_cast<int>(c.rhs[s] * pstride[s]);
    }
    if (per_image) off += n * static_cast<int>(plane);
    return xf(col + off, g * static_cast<int>(c.cg) + ti[0]);
  };
  ProductShape shape;
  shape.m = c.og;
  shape.n = pc.n;
  shape.k = NumElements(terms);
  shape.batch = per_image ? Dims{batch, c.groups} : Dims{c.groups};
  shape.b_columns_padded = true;
  shape.b_in_place = true;
  shape.k_step = KernelStep(c.kernel);
  const auto a = FromRows(WeightRows(id), per_image ? 1 : 0);
  auto b = [&](Expr term, Expr col, const std::vector<Expr>& bt) {
    return per_image ? window(term, col, bt[1], bt[0])
                     : window(term, col, bt[0], 0);
  };
  DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  // y[n, o, p...] = product[g = o / Og][o % Og][n P + sum_s p_s pstride_s]
  // (per image: product[n][g][o % Og][sum_s p_s pstride_s]).
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  Expr col = per_image ? Expr(0) : l.vars[0] * static_cast<int>(plane);
  for (int s = 0; s < S; ++s) {
    col += l.vars[2 + s] * static_cast<int>(pstride[s]);
  }
  Expr o = l.vars[1], row = o, group = 0;
  if (c.groups > 1) {
    row = o % static_cast<int>(c.og);
    group = o / static_cast<int>(c.og);
  }
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = per_image ? l.product(col, row, group, l.vars[0])
                                         : l.product(col, row, group);
}

// A weight gradient's shape: few output pixels p (the kernel's positions)
// from a kernel as large as the image (dy). With x and w laid out flat
// over the same padded planes (Hp_s = outputs + kernel - 1, P their
// product), sum over f = (c, i...) < Cg P:
//   y[n, o, p] = sum_f wf[o, f] xf[n, f + off(p)],
// wf[o, (c, i)] = w[o, c, i] (zero past the kernel), xf[n, (c, i)] =
// x[n, c, i - lo] (zero in the padding), off(p) = sum_s p_s pstride_s:
// a product whose rows are (n, p), columns o and sum f, both operands
// read with dense loads along f where flattened columns gather the
// windows element by element. (AVX-512, 2 threads, the small CNN's
// weight gradients: see README.)
void Lowering::LowerConvWeightsByPlanes(ValueId id) {
  const ConvParts c(g_, g_.node(id));
  const int S = c.spatial;
  const Dims pixels(c.yd.begin() + 2, c.yd.end());
  const int64_t npix = NumElements(pixels);
  const Planes p(c, /*shared=*/false);
  const Dims& planes = p.extents;
  const std::vector<int64_t>& pstride = p.strides;
  const int64_t plane = p.size;
  int64_t reach = 0;  // off(p) of the last pixel.
  for (int s = 0; s < S; ++s) reach += (pixels[s] - 1) * pstride[s];
  const int64_t m = c.yd[0] * npix;
  // Few outputs (the first layer's, from 1 or 3 channels): a dot product
  // over k padded with zeros, where the product would pack wf transposed.
  const DotPlan dot = PlanDot(m, c.og, c.cg * plane, target_, TypeOf(id));
  const int64_t k = dot.chunks > 0 ? dot.padded_k() : c.cg * plane;
  Lowered& l = values_[id];
  l.flat_sources.push_back(FlatPlanes(
      absl::StrCat("xflat", id), c.cg, planes, k + reach, PaddedBox(id, planes),
      [&](Expr ch, Expr n, const std::vector<Expr>& q) {
        return At(c.x, SpatialIndex(n, ch, q));
      }));
  // wf: w at the start of each plane, zero past the kernel.
  std::vector<PlaneBox> kernel_box(S);
  for (int s = 0; s < S; ++s) kernel_box[s].extent = c.kernel[s];
  l.flat_sources.push_back(
      FlatPlanes(absl::StrCat("wflat", id), c.cg, planes, k, kernel_box,
                 [&](Expr ch, Expr o, const std::vector<Expr>& q) {
                   return At(c.w, SpatialIndex(o, ch, q));
                 }));
  Func xf = l.flat_sources[0].func, wf = l.flat_sources[1].func;
  ProductShape shape;
  shape.m = m;
  shape.n = c.og;
  shape.k = k;
  shape.b_transposed = true;
  auto a = [&, xf](Expr row, Expr term, const std::vector<Expr>&) {
    Expr off = 0;
    const std::vector<Expr> pi =
        Unflatten(row % static_cast<int>(npix), pixels);
    for (int s = 0; s < S; ++s) {
      off += pi[s] * static_cast<int>(pstride[s]);
    }
    return xf(term + off, row / static_cast<int>(npix));
  };
  auto b = [wf](Expr term, Expr col, const std::vector<Expr>&) {
    return wf(term, col);
  };
  if (dot.chunks > 0) {
    DefineDotProduct(id, shape, dot, a, b, StrictProduct(c.x, c.w));
  } else {
    DefineProduct(id, shape, a, b, StrictProduct(c.x, c.w));
  }
  // y[n, o, p...] = product[(n, p)][o].
  l.vars = MakeVars(static_cast<int>(c.yd.size()));
  Expr row = l.vars[0];
  for (int s = 0; s < S; ++s) {
    row = row * static_cast<int>(pixels[s]) + l.vars[2 + s];
  }
  l.func = Func(absl::StrCat("conv", id));
  l.func(HalideVars(l.vars)) = l.product(l.vars[1], row);
  l.copy_along_channels = true;
}

}  // namespace adc::codegen::lowering
