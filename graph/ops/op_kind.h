// The one enumeration of op kinds. Every op kind has a definition (shape and
// dtype rule, gradient rule, reference kernel and properties) in
// graph/ops/*.cc and a Halide lowering in codegen/. graph/ops/README.md is
// the checklist of every place a new op touches; tests/op_completeness_test,
// tests/op_gradients_test and codegen/ops_e2e_test fail while one is missing.
#ifndef ADC_GRAPH_OPS_OP_KIND_H_
#define ADC_GRAPH_OPS_OP_KIND_H_

namespace adc {

enum class OpKind {
  // Leaves. kInput and kParameter are graph inputs (GraphDef.inputs and
  // GraphDef.parameters), never written as nodes.
  kInput,
  kParameter,
  kConstant,  // attr value: tensor
  kIota,      // attrs dtype, shape, axis: out[i] = i[axis]

  // Element-wise unary.
  kNeg,
  kAbs,
  kSign,
  kRound,  // to the nearest integer, ties to even
  kExp,
  kLog,
  kLog1p,
  kExpm1,
  kSin,
  kCos,
  kTan,
  kTanh,
  kSigmoid,
  kSqrt,
  kErf,
  kAtan,
  kCast,          // attr dtype
  kStopGradient,  // identity value, no gradient

  // Element-wise binary; operands have equal shapes (the builder inserts
  // broadcast_to) and equal dtypes.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMaximum,
  kMinimum,
  kMulNoNan,  // x * y, but 0 wherever y == 0 (even if x is inf or NaN)
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kEqual,
  kNotEqual,
  // Counter-based random numbers: random_uniform(key, counter) with integer
  // operands, attr dtype (f32 or f64): uniform in [0, 1) (graph/ops/random.h).
  kRandomUniform,

  // Element-wise ternary: select(cond, on_true, on_false).
  kSelect,

  // Reductions over attr axes, with attr keepdims.
  kReduceSum,
  kReduceMax,
  kReduceMin,
  kReduceProd,

  // Batched matrix product [..., m, k] x [..., k, n] -> [..., m, n] with equal
  // batch dims.
  kMatMul,
  // Convolution (XLA's ConvGeneralDilated, NCHW / OIHW): x [N, C, S...], w
  // [O, C / groups, K...]; attrs strides, pads_low, pads_high (may be
  // negative: cropping), lhs_dilation, rhs_dilation, groups.
  kConv,

  // Data movement.
  kReshape,      // attr shape
  kTranspose,    // attr perm
  kBroadcastTo,  // attr shape (NumPy rules)
  kConcat,       // attr axis; 1 or more inputs
  kSlice,        // attrs start, limit, stride (stride may be negative)
  kPad,          // attrs low, high, interior (all >= 0), value
  kGather,       // attr axis; (x, indices)
  // (x, after...): x, computed after the other operands and never merged
  // with a computation of x elsewhere (JAX's optimization_barrier).
  kBarrier,
  kScatterAdd,   // attr axis; (base, indices, updates)
  kCumSum,       // attrs axis, exclusive, reverse

  // Calls of library functions (graph/graph.h).
  kCustomVjp,  // attrs forward, vjp (function names), dtype, shape

  // Control flow (graph/ops/control.cc): one node per result of a construct.
  kCond,       // (pred, operands...); attrs then_branch, else_branch, result
  kWhileLoop,  // (init..., captured...); attrs cond, body, max_iterations,
               // result
};

inline constexpr int kNumOpKinds = static_cast<int>(OpKind::kWhileLoop) + 1;

}  // namespace adc

#endif  // ADC_GRAPH_OPS_OP_KIND_H_
