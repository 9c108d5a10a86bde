// Scalar math for generated code: Halide expressions of the element-wise
// functions with the interpreter's IEEE behaviour (C's libm: NaN, inf, -0
// and subnormals), vectorizable in f32. Halide 14's own f32 exp, log and erf
// are polynomials without special cases, and its f32 tanh, sin, cos and tan
// call scalar libm per lane; f64 goes to libm, which is exact to within an
// ulp. codegen/math_kernels_test.cc compares every f32 kernel with libm over
// a wide sweep and prints the largest error in ulps.
#ifndef ADC_CODEGEN_MATH_KERNELS_H_
#define ADC_CODEGEN_MATH_KERNELS_H_

#include <cstdint>
#include <cstring>

#include "Halide.h"

namespace adc::codegen {

// v in type t (integers truncate).
Halide::Expr Const(Halide::Type t, double v);
// +inf, or the largest value of an integer type.
Halide::Expr Infinity(Halide::Type t);

// The functions, on f32 or f64 operands, as libm computes them.
Halide::Expr ExpOf(Halide::Expr x);
Halide::Expr LogOf(Halide::Expr x);
Halide::Expr Log1pOf(Halide::Expr x);
Halide::Expr Expm1Of(Halide::Expr x);
Halide::Expr SinOf(Halide::Expr x);
Halide::Expr CosOf(Halide::Expr x);
Halide::Expr TanOf(Halide::Expr x);
Halide::Expr TanhOf(Halide::Expr x);
Halide::Expr ErfOf(Halide::Expr x);
Halide::Expr AtanOf(Halide::Expr x);
// 1 / (1 + exp(-x)), without overflow.
Halide::Expr SigmoidOf(Halide::Expr x);
// 1, -1 or x itself (0, -0 and NaN stay); any numeric type.
Halide::Expr SignOf(Halide::Expr x);
// x^y as C's pow.
Halide::Expr PowOf(Halide::Expr x, Halide::Expr y);

// The distance in ulps between two finite floats (floats ordered as
// integers: adjacent floats are 1 apart, +0 and -0 are 0 apart).
inline int64_t UlpDistance(float a, float b) {
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? int64_t{INT32_MIN} - i : int64_t{i};
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

// e with every comparison of floats in it strict (see math_kernels.cc).
Halide::Expr StrictComparisons(Halide::Expr e);

// select(cond, slow, fast) for a `cond` that rarely holds, where `slow` is
// expensive: vectorized, `slow` is computed only for vectors in which some
// lane needs it (a branch per vector; plain select computes both sides of
// every lane). Needs the lowering pass of AddMathLoweringPasses.
Halide::Expr RarePath(Halide::Expr cond, Halide::Expr slow, Halide::Expr fast);

// a * b + c, rounded once where the target has FMA (x86-64-v3 and up),
// else strict a * b, then + c. Needs the lowering pass of
// AddMathLoweringPasses. The kernels use it where both give the same
// result (an exact product) or where one rounding less only helps (the
// polynomials); math_kernels_test bounds the error on every feature level.
Halide::Expr Fma(Halide::Expr a, Halide::Expr b, Halide::Expr c);

// The markers' lowering on a lowered statement for a target (what the pass
// of AddMathLoweringPasses does): Fma's becomes an FMA or a multiplication
// and an addition; RarePath's a branch per vector, and the lets that only
// slow sides use move into them; a marker that several stores of one loop
// compute alike is bound once around the loop's body.
Halide::Internal::Stmt LowerMathMarkers(const Halide::Internal::Stmt& s,
                                        const Halide::Target& target);

// Adds the custom lowering pass that every pipeline using these kernels
// needs, for the target it is compiled for (it turns the markers of Fma and
// RarePath into code; without it they would be undefined functions at link
// time).
void AddMathLoweringPasses(Halide::Pipeline& pipeline,
                           const Halide::Target& target);

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_MATH_KERNELS_H_
