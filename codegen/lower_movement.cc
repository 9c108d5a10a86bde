// Data movement: each output element is one element of an operand (or a
// fill value), so these ops are index arithmetic inlined into their
// consumers; one member per op, found by MovementLowerings().
#include <algorithm>

#include "codegen/lowering.h"
#include "graph/check.h"

namespace adc::codegen::lowering {

// The source index of reshape: matches groups of input and output dims with
// equal products (ignoring size-1 dims), so splitting a dim needs no division
// and merging dims needs one division and one modulo per merged dim.
Index ReshapeSource(const Dims& in, const Dims& out, const Index& o) {
  Index src(in.size(), Expr(0));
  if (NumElements(in) == 0) return src;
  std::vector<int> in_axes, out_axes;
  for (int i = 0; i < static_cast<int>(in.size()); ++i) {
    if (in[i] != 1) in_axes.push_back(i);
  }
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    if (out[i] != 1) out_axes.push_back(i);
  }
  size_t a = 0, b = 0;
  while (a < in_axes.size() && b < out_axes.size()) {
    size_t a_end = a + 1, b_end = b + 1;
    int64_t pa = in[in_axes[a]], pb = out[out_axes[b]];
    while (pa != pb) {
      if (pa < pb) {
        pa *= in[in_axes[a_end++]];
      } else {
        pb *= out[out_axes[b_end++]];
      }
    }
    // Flat index of the group in the output.
    Expr flat = Expr(0);
    for (size_t k = b; k < b_end; ++k) {
      flat = flat * static_cast<int>(out[out_axes[k]]) + o[out_axes[k]];
    }
    // Split it over the group's input dims.
    int64_t stride = 1;
    for (size_t k = a_end; k-- > a;) {
      const int64_t n = in[in_axes[k]];
      Expr q = stride == 1 ? flat : flat / static_cast<int>(stride);
      src[in_axes[k]] = k == a ? q : q % static_cast<int>(n);
      stride *= n;
    }
    a = a_end;
    b = b_end;
  }
  return src;
}

// The element index of gather and scatter_add: an index counts from the end
// when negative, and is clamped into [0, n - 1], in its own integer type
// (an i64 index such as 2^32 + 1 must clamp to n - 1, not wrap to 1), then
// narrowed for addressing (n < 2^31: CheckAddressable).
Expr ClampIndex(Expr k, int64_t n) {
  const Halide::Type t = k.type();
  Expr wrapped = Halide::select(k < Const(t, 0), k + Const(t, n), k);
  return Halide::cast<int>(
      Halide::clamp(wrapped, Const(t, 0), Const(t, n - 1)));
}

const absl::flat_hash_map<OpKind, Lowering::MemberLowering>&
Lowering::MovementLowerings() {
  static const auto* table = new absl::flat_hash_map<OpKind, MemberLowering>{
      {OpKind::kReshape, &Lowering::LowerReshape},
      {OpKind::kTranspose, &Lowering::LowerTranspose},
      {OpKind::kBroadcastTo, &Lowering::LowerBroadcastTo},
      {OpKind::kConcat, &Lowering::LowerConcat},
      {OpKind::kSlice, &Lowering::LowerSlice},
      {OpKind::kPad, &Lowering::LowerPad},
      {OpKind::kGather, &Lowering::LowerGather},
      {OpKind::kBarrier, &Lowering::LowerBarrier},
  };
  return *table;
}

bool LowersMovement(OpKind op) {
  return Lowering::MovementLowerings().contains(op);
}

void Lowering::LowerMovement(ValueId id) {
  auto row = MovementLowerings().find(g_.node(id).op);
  ADC_CHECK(row != MovementLowerings().end());
  (this->*(row->second))(id);
}

// barrier(x, after...) is x here: the stages (and the node order within the
// fusion plan) put it after its other operands.
void Lowering::LowerBarrier(ValueId id) {
  const ValueId x = g_.node(id).inputs[0];
  Define(id, [&](const Index& i) { return At(x, i); });
}

void Lowering::LowerReshape(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0];
  Define(id, [&](const Index& i) {
    return At(x, ReshapeSource(DimsOf(x), node.type.dims, i));
  });
}

void Lowering::LowerTranspose(ValueId id) {
  const Node& node = g_.node(id);
  const auto& perm = node.attrs.GetInts("perm");
  Define(id, [&](const Index& i) {
    Index src(i.size());
    for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = i[d];
    return At(node.inputs[0], src);
  });
}

void Lowering::LowerBroadcastTo(ValueId id) {
  const Node& node = g_.node(id);
  const Dims& xd = DimsOf(node.inputs[0]);
  const int lead = node.type.rank() - static_cast<int>(xd.size());
  Define(id, [&](const Index& i) {
    Index src(xd.size());
    for (size_t d = 0; d < xd.size(); ++d) {
      src[d] = xd[d] == 1 ? Expr(0) : i[lead + d];
    }
    return At(node.inputs[0], src);
  });
}

void Lowering::LowerConcat(ValueId id) {
  const Node& node = g_.node(id);
  const int64_t axis = node.attrs.GetInt("axis");
  const Halide::Type t = TypeOf(id);
  Define(id, [&](const Index& i) {
    // The last input is the default; earlier ones are selected by range.
    // Each read is clamped into its input, as bounds inference requires.
    Expr result;
    int64_t offset =
        NumElements(node.type.dims) == 0 ? 0 : node.type.dims[axis];
    for (int k = static_cast<int>(node.inputs.size()) - 1; k >= 0; --k) {
      const int64_t n = DimsOf(node.inputs[k])[axis];
      offset -= n;
      if (n == 0) continue;
      Index src = i;
      src[axis] = Halide::clamp(i[axis] - static_cast<int>(offset), 0,
                                static_cast<int>(n - 1));
      Expr v = At(node.inputs[k], src);
      result = result.defined()
                   ? Halide::select(i[axis] >= static_cast<int>(offset) &&
                                        i[axis] < static_cast<int>(offset + n),
                                    v, result)
                   : v;
    }
    return result.defined() ? result : Const(t, 0);
  });
}

void Lowering::LowerSlice(ValueId id) {
  const Node& node = g_.node(id);
  const auto& start = node.attrs.GetInts("start");
  const auto& stride = node.attrs.GetInts("stride");
  Define(id, [&](const Index& i) {
    Index src(i.size());
    for (size_t d = 0; d < i.size(); ++d) {
      src[d] = static_cast<int>(start[d]) + i[d] * static_cast<int>(stride[d]);
    }
    return At(node.inputs[0], src);
  });
}

void Lowering::LowerPad(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0];
  const auto& low = node.attrs.GetInts("low");
  const auto& interior = node.attrs.GetInts("interior");
  const Dims& xd = DimsOf(x);
  Expr value = Const(TypeOf(id), node.attrs.GetFloat("value"));
  if (NumElements(xd) == 0) {
    Define(id, [&](const Index&) { return value; });
    return;
  }
  Define(id, [&](const Index& i) {
    Expr inside = Halide::cast<bool>(true);
    Index src(i.size());
    for (size_t d = 0; d < i.size(); ++d) {
      const int step = static_cast<int>(interior[d] + 1);
      Expr q = i[d] - static_cast<int>(low[d]);
      inside = inside && q >= 0 && q <= static_cast<int>((xd[d] - 1) * step);
      if (step > 1) inside = inside && q % step == 0;
      src[d] = Halide::clamp(step > 1 ? q / step : q, 0,
                             static_cast<int>(xd[d] - 1));
    }
    return Halide::select(inside, At(x, src), value);
  });
}

void Lowering::LowerGather(ValueId id) {
  const Node& node = g_.node(id);
  const ValueId x = node.inputs[0], indices = node.inputs[1];
  const int64_t axis = node.attrs.GetInt("axis");
  const int ir = g_.type(indices).rank();
  const int64_t n = DimsOf(x)[axis];
  Define(id, [&](const Index& i) {
    Index idx(i.begin() + axis, i.begin() + axis + ir);
    Expr k = ClampIndex(At(indices, idx), std::max<int64_t>(n, 1));
    Index src(i.begin(), i.begin() + axis);
    src.push_back(k);
    src.insert(src.end(), i.begin() + axis + ir, i.end());
    return At(x, src);
  });
}

}  // namespace adc::codegen::lowering
