// Real datasets that Debian ships, read directly (no Python at run time):
// scikit-learn's handwritten digits (python3-sklearn: 1797 8x8 images,
// digits.csv.gz) and Fashion-MNIST (dataset-fashion-mnist: 70000 28x28
// images in IDX format, gzipped).
#ifndef ADC_MODELS_TRAIN_DATASETS_H_
#define ADC_MODELS_TRAIN_DATASETS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace adc::train {

// Images as f32 rows (num x features, scaled to [0, 1]) and integer labels.
struct Dataset {
  int64_t num = 0;
  std::vector<int64_t> shape;  // Of one example: {64} or {1, 28, 28}.
  std::vector<float> x;        // num * features values.
  std::vector<int64_t> y;      // num labels.
  int64_t features() const;
};

inline constexpr char kDigitsPath[] =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The digits (pixel values 0..16 scaled by 1/16, labels 0..9).
absl::StatusOr<Dataset> LoadDigits(const std::string& path = kDigitsPath);
// Fashion-MNIST's "train" (60000) or "t10k" (10000) split (pixels / 255).
absl::StatusOr<Dataset> LoadFashionMnist(
    const std::string& split, const std::string& dir = kFashionMnistDir);

// A reproducible split: a shuffle of the examples by `seed`, the first
// `test_fraction` of them for testing.
void SplitTrainTest(const Dataset& all, double test_fraction, uint32_t seed,
                    Dataset* train, Dataset* test);

// Examples `order[first..first+n)` of `d` (x and y), for a batch.
void Gather(const Dataset& d, const std::vector<int64_t>& order, int64_t first,
            int64_t n, std::vector<float>* x, std::vector<int64_t>* y);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_DATASETS_H_
