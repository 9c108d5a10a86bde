#include "models/train/datasets.h"

#include <zlib.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace adc::train {
namespace {

// The whole (gzip-compressed) file.
absl::StatusOr<std::string> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  std::string data;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(f, buffer, sizeof(buffer))) > 0) data.append(buffer, n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) {
    return absl::DataLossError(absl::StrCat("'", path, "' is not valid gzip"));
  }
  return data;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}

// An IDX file of unsigned bytes: magic 0x0000080D (D dims), D sizes, data.
absl::StatusOr<std::vector<uint32_t>> IdxDims(const std::string& data,
                                              const std::string& path) {
  if (data.size() < 4 || BigEndian32(data, 0) >> 8 != 0x08) {
    return absl::DataLossError(
        absl::StrCat("'", path, "' is not an IDX file of unsigned bytes"));
  }
  const uint32_t rank = BigEndian32(data, 0) & 0xFF;
  std::vector<uint32_t> dims;
  uint64_t count = 1;
  for (uint32_t k = 0; k < rank && 4 + 4 * (k + 1) <= data.size(); ++k) {
    dims.push_back(BigEndian32(data, 4 + 4 * k));
    count *= dims.back();
  }
  if (dims.size() != rank || data.size() != 4 + 4 * rank + count) {
    return absl::DataLossError(absl::StrCat(
        "'", path, "': the IDX header does not match the file's size"));
  }
  return dims;
}

}  // namespace

int64_t Dataset::features() const {
  int64_t f = 1;
  for (int64_t d : shape) f *= d;
  return f;
}

absl::StatusOr<Dataset> LoadDigits(const std::string& path) {
  absl::StatusOr<std::string> text = ReadGzip(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(text.status().message(),
                                     " (the digits come with Debian's "
                                     "python3-sklearn)"));
  }
  Dataset d;
  d.shape = {64};
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
    if (cells.size() != 65) {
      return absl::DataLossError(absl::StrCat(
          path, ":", line_number, ": ", cells.size(), " values, expected 65"));
    }
    for (size_t k = 0; k < 65; ++k) {
      double v;
      if (!absl::SimpleAtod(cells[k], &v)) {
        return absl::DataLossError(
            absl::StrCat(path, ":", line_number, ": not a number"));
      }
      if (k < 64) {
        d.x.push_back(static_cast<float>(v / 16.0));
      } else {
        d.y.push_back(static_cast<int64_t>(v));
      }
    }
    ++d.num;
  }
  return d;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& split,
                                         const std::string& dir) {
  if (split != "train" && split != "t10k") {
    return absl::InvalidArgumentError(
        absl::StrCat("Fashion-MNIST split '", split, "': 'train' or 't10k'"));
  }
  const std::string images_path =
      absl::StrCat(dir, "/", split, "-images-idx3-ubyte.gz");
  const std::string labels_path =
      absl::StrCat(dir, "/", split, "-labels-idx1-ubyte.gz");
  absl::StatusOr<std::string> images = ReadGzip(images_path);
  absl::StatusOr<std::string> labels = ReadGzip(labels_path);
  for (const absl::StatusOr<std::string>* s : {&images, &labels}) {
    if (!s->ok()) {
      return absl::Status(s->status().code(),
                          absl::StrCat(s->status().message(),
                                       " (install dataset-fashion-mnist)"));
    }
  }
  absl::StatusOr<std::vector<uint32_t>> idims = IdxDims(*images, images_path);
  if (!idims.ok()) return idims.status();
  absl::StatusOr<std::vector<uint32_t>> ldims = IdxDims(*labels, labels_path);
  if (!ldims.ok()) return ldims.status();
  if (idims->size() != 3 || ldims->size() != 1 || (*idims)[0] != (*ldims)[0]) {
    return absl::DataLossError(absl::StrCat(
        "Fashion-MNIST ", split, ": images and labels do not match"));
  }
  Dataset d;
  d.num = (*idims)[0];
  d.shape = {1, (*idims)[1], (*idims)[2]};
  const size_t header = 4 + 4 * 3;
  d.x.resize(images->size() - header);
  for (size_t i = 0; i < d.x.size(); ++i) {
    d.x[i] = static_cast<uint8_t>((*images)[header + i]) / 255.0f;
  }
  for (int64_t i = 0; i < d.num; ++i) {
    d.y.push_back(static_cast<uint8_t>((*labels)[8 + i]));
  }
  return d;
}

void SplitTrainTest(const Dataset& all, double test_fraction, uint32_t seed,
                    Dataset* train, Dataset* test) {
  std::vector<int64_t> order(all.num);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t num_test = static_cast<int64_t>(all.num * test_fraction);
  *train = Dataset();
  *test = Dataset();
  train->shape = test->shape = all.shape;
  test->num = num_test;
  train->num = all.num - num_test;
  Gather(all, order, 0, num_test, &test->x, &test->y);
  Gather(all, order, num_test, train->num, &train->x, &train->y);
}

void Gather(const Dataset& d, const std::vector<int64_t>& order, int64_t first,
            int64_t n, std::vector<float>* x, std::vector<int64_t>* y) {
  const int64_t f = d.features();
  x->resize(n * f);
  y->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t e = order[first + i];
    std::copy(d.x.begin() + e * f, d.x.begin() + (e + 1) * f,
              x->begin() + i * f);
    (*y)[i] = d.y[e];
  }
}

}  // namespace adc::train
