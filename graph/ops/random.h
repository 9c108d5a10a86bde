// The counter-based generator behind random_uniform: SplitMix64 (Steele,
// Lea and Flood, "Fast splittable pseudorandom number generators", 2014; the
// generator of Java's SplittableRandom, with Stafford's "Mix13" finalizer,
// as Vigna's reference splitmix64.c). Element `counter` of the stream of
// `key` is the (counter + 1)-th output of SplitMix64 seeded with `key`:
//
//   bits(key, counter) = mix(key + (counter + 1) * kGamma)   (mod 2^64)
//
// a pure function of its two integers, so the interpreter, constant folding
// and the generated code (codegen/lower_elementwise.cc, the same arithmetic
// on vectors of uint64) give the same numbers on every target, and a value
// is recomputed rather than stored wherever that is cheaper. Integers are
// taken as two's-complement 64-bit (i32 sign-extended). A float in [0, 1)
// takes the top bits: f32 (bits >> 40) * 2^-24, f64 (bits >> 11) * 2^-53.
#ifndef ADC_GRAPH_OPS_RANDOM_H_
#define ADC_GRAPH_OPS_RANDOM_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace adc::random {

inline constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
inline constexpr uint64_t kMix1 = 0xBF58476D1CE4E5B9ull;
inline constexpr uint64_t kMix2 = 0x94D049BB133111EBull;
inline constexpr int kShift1 = 30, kShift2 = 27, kShift3 = 31;

inline uint64_t Bits(int64_t key, int64_t counter) {
  uint64_t z = static_cast<uint64_t>(key) +
               (static_cast<uint64_t>(counter) + 1) * kGamma;
  z = (z ^ (z >> kShift1)) * kMix1;
  z = (z ^ (z >> kShift2)) * kMix2;
  return z ^ (z >> kShift3);
}

// The float in [0, 1) that `bits` gives in a float of `mantissa_bits`
// significant bits (24 for f32, 53 for f64).
inline double Uniform(uint64_t bits, int mantissa_bits) {
  return static_cast<double>(bits >> (64 - mantissa_bits)) /
         static_cast<double>(uint64_t{1} << mantissa_bits);
}

// FNV-1a (64-bit) of a name: a hash that is the same in every process and
// build, for streams and seeds derived from names.
inline uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace adc::random

#endif  // ADC_GRAPH_OPS_RANDOM_H_
