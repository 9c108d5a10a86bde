// The seed examples, built with the builder API. models/seeds/*.pbtxt are
// these graphs written out (write_seeds regenerates them; seeds_test keeps
// them in sync), so they can be used straight from the command line:
//
//   adc grad models/seeds/scalar.pbtxt --of y -o g.pb
//   adc compile g.pb -o g.so
//   adc run g.so --in x1=a.npy --in x2=b.npy --out-dir out/
#ifndef ADC_MODELS_SEEDS_SEEDS_H_
#define ADC_MODELS_SEEDS_SEEDS_H_

#include "graph/graph.h"

namespace adc::seeds {

// f32 rank-0 inputs x1, x2; output y = x1 * x2 - sin(x2).
Graph Scalar(DType dtype = DType::kF32);

// f32 rank-0 inputs x1, x2; output f = (1 + sin(x2)) / (x2 + exp(x1)) + x1 *
// x2.
Graph Composite(DType dtype = DType::kF32);

}  // namespace adc::seeds

#endif  // ADC_MODELS_SEEDS_SEEDS_H_
