#include "tools/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/check.h"
#include "graph/file_io.h"
#include "graph/ops/op_util.h"

namespace adc {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy aligns the data to this many bytes (numpy.lib.format.ARRAY_ALIGN).
constexpr size_t kAlign = 64;
// numpy leaves room to grow the first dimension's digits in place
// (numpy.lib.format.GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kGrowthAxisMaxDigits = 21;

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a valid .npy file: ", what));
}

// The header dict, as numpy writes it: a Python literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<Dims> shape;
};

// A recursive-descent parser for the subset of Python literals a header
// uses: one dict of string keys whose values are strings, booleans or tuples
// of integers.
class HeaderParser {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<Header> Parse() {
    Header header;
    SkipSpace();
    if (!Consume('{')) return Malformed("the header is not a dict");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      absl::StatusOr<std::string> key = ParseString();
      if (!key.ok()) return Malformed("the header's keys must be strings");
      SkipSpace();
      if (!Consume(':'))
        return Malformed(absl::StrCat("no ':' after '", *key, "'"));
      SkipSpace();
      if (*key == "descr") {
        if (header.descr) return Malformed("'descr' appears twice");
        absl::StatusOr<std::string> descr = ParseString();
        if (!descr.ok()) {
          return absl::InvalidArgumentError(
              "unsupported .npy dtype: structured or non-string 'descr' "
              "(adc reads f32, f64, i32, i64 and bool arrays)");
        }
        header.descr = *descr;
      } else if (*key == "fortran_order") {
        if (header.fortran_order)
          return Malformed("'fortran_order' appears twice");
        if (ConsumeWord("True")) {
          header.fortran_order = true;
        } else if (ConsumeWord("False")) {
          header.fortran_order = false;
        } else {
          return Malformed("'fortran_order' is not True or False");
        }
      } else if (*key == "shape") {
        if (header.shape) return Malformed("'shape' appears twice");
        absl::StatusOr<Dims> shape = ParseTuple();
        if (!shape.ok()) return shape.status();
        header.shape = std::move(*shape);
      } else {
        return Malformed(absl::StrCat("unexpected header key '", *key, "'"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume('}')) break;
      return Malformed("expected ',' or '}' in the header dict");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Malformed("junk after the header dict");
    if (!header.descr || !header.fortran_order || !header.shape) {
      return Malformed(
          "the header needs the keys 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool ConsumeWord(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    const size_t end = pos_ + word.size();
    if (end < text_.size() &&
        (std::isalnum(static_cast<unsigned char>(text_[end])) ||
         text_[end] == '_')) {
      return false;
    }
    pos_ = end;
    return true;
  }
  absl::StatusOr<std::string> ParseString() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Malformed("expected a string");
    }
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') {
        return Malformed("unsupported string in the header");
      }
      ++pos_;
    }
    if (pos_ >= text_.size())
      return Malformed("unterminated string in the header");
    std::string s(text_.substr(start, pos_ - start));
    ++pos_;
    return s;
  }
  // "()", "(3,)", "(2, 3)"; "(3)" is accepted too. Python 2 files may carry
  // an 'L' suffix ("(3L,)").
  absl::StatusOr<Dims> ParseTuple() {
    if (!Consume('(')) return Malformed("'shape' is not a tuple");
    Dims dims;
    while (true) {
      SkipSpace();
      if (Consume(')')) return dims;
      bool negative = Consume('-');
      if (pos_ >= text_.size() ||
          !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        return Malformed("'shape' holds something other than integers");
      }
      int64_t value = 0;
      while (pos_ < text_.size() &&
             std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        const int digit = text_[pos_++] - '0';
        if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          return Malformed("a dimension in 'shape' is too large");
        }
        value = value * 10 + digit;
      }
      Consume('L');
      if (negative) {
        return Malformed(
            absl::StrCat("negative dimension -", value, " in 'shape'"));
      }
      dims.push_back(value);
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume(')')) return dims;
      return Malformed("expected ',' or ')' in 'shape'");
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<DType> DTypeFromDescr(const std::string& descr) {
  if (descr.size() == 3) {
    const char order = descr[0];
    const absl::string_view kind = absl::string_view(descr).substr(1);
    if (order == '>' && kind != "b1") {
      return absl::InvalidArgumentError(absl::StrCat(
          "big-endian .npy data ('", descr,
          "') is not supported; save a little-endian array (a.astype('<", kind,
          "'))"));
    }
    // '=' is native order, little-endian on every host adc runs on.
    if (order == '<' || order == '=' || order == '|' || order == '>') {
      if (kind == "f4" && order != '|') return DType::kF32;
      if (kind == "f8" && order != '|') return DType::kF64;
      if (kind == "i4" && order != '|') return DType::kI32;
      if (kind == "i8" && order != '|') return DType::kI64;
      if (kind == "b1") return DType::kBool;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported .npy dtype '", descr,
                   "' (adc reads float32 '<f4', float64 '<f8', int32 '<i4', "
                   "int64 '<i8' and bool '|b1')"));
}

uint32_t ReadLittleEndian(absl::string_view bytes, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return v;
}

// Python's repr of a shape tuple: "()", "(3,)", "(2, 3)".
std::string ShapeRepr(absl::Span<const int64_t> dims) {
  if (dims.size() == 1) return absl::StrCat("(", dims[0], ",)");
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

absl::Status WithPath(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(path, ": ", status.message()));
}

}  // namespace

absl::string_view NpyDescr(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kF64:
      return "<f8";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
    case DType::kBool:
      return "|b1";
  }
  ADC_CHECK_MSG(false, "bad dtype");
}

namespace {

// Where a .npy file's header starts and how long its first bytes say it is
// (none if they are not the prefix of a known version): the one reader of
// the length field.
struct HeaderSpan {
  size_t offset;
  uint32_t length;
};
std::optional<HeaderSpan> ClaimedHeader(absl::string_view contents) {
  if (contents.size() < kMagicLen + 2 ||
      contents.substr(0, kMagicLen) != absl::string_view(kMagic, kMagicLen)) {
    return std::nullopt;
  }
  const int major = static_cast<uint8_t>(contents[kMagicLen]);
  const int len_bytes = major == 1 ? 2 : 4;
  const size_t offset = kMagicLen + 2 + len_bytes;
  if (contents.size() < offset) return std::nullopt;
  return HeaderSpan{
      offset, ReadLittleEndian(contents.substr(kMagicLen + 2), len_bytes)};
}

absl::Status CheckHeaderLength(uint32_t header_len, const NpyLimits& limits) {
  if (header_len <= limits.max_header_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the .npy header is ", header_len, " bytes, more than the limit of ",
      limits.max_header_bytes, " (NpyLimits::max_header_bytes)"));
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpy(absl::string_view contents,
                                  const NpyLimits& limits) {
  if (contents.size() < kMagicLen + 2 ||
      contents.substr(0, kMagicLen) != absl::string_view(kMagic, kMagicLen)) {
    return Malformed("bad magic string (expected \\x93NUMPY)");
  }
  const int major = static_cast<uint8_t>(contents[kMagicLen]);
  const int minor = static_cast<uint8_t>(contents[kMagicLen + 1]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported .npy format version ", major, ".", minor,
                     " (adc reads 1.0, 2.0 and 3.0)"));
  }
  const std::optional<HeaderSpan> span = ClaimedHeader(contents);
  if (!span) return Malformed("truncated header");
  const size_t prefix = span->offset;
  const uint32_t header_len = span->length;
  if (absl::Status s = CheckHeaderLength(header_len, limits); !s.ok()) {
    return s;
  }
  if (contents.size() - prefix < header_len)
    return Malformed("truncated header");
  const absl::string_view header_text = contents.substr(prefix, header_len);
  absl::StatusOr<Header> header = HeaderParser(header_text).Parse();
  if (!header.ok()) return header.status();

  absl::StatusOr<DType> dtype = DTypeFromDescr(*header->descr);
  if (!dtype.ok()) return dtype.status();
  const Dims& dims = *header->shape;
  // The rank, and like NumPy's "array is too big": the product of the
  // nonzero dimensions is bounded even when another dimension is 0, so that
  // no later element count or stride overflows.
  if (absl::Status st = ops::CheckDims(dims, "the .npy shape"); !st.ok()) {
    return absl::InvalidArgumentError(st.message());
  }
  int nontrivial = 0;
  for (int64_t d : dims) nontrivial += d > 1;
  if (*header->fortran_order && nontrivial > 1) {
    return absl::InvalidArgumentError(
        "Fortran-order .npy arrays are not supported; save a C-order array "
        "(numpy.ascontiguousarray(a))");
  }

  const absl::string_view data = contents.substr(prefix + header_len);
  const size_t item = DTypeSize(*dtype);
  // Element count, without overflow: it must fit in the data at hand.
  uint64_t count = 1;
  const uint64_t max_count = data.size() / item;
  bool too_large = false;
  for (int64_t d : dims) {
    if (d == 0) {
      count = 0;
      too_large = false;
      break;
    }
    if (too_large || count > max_count / static_cast<uint64_t>(d)) {
      too_large = true;
    } else {
      count *= static_cast<uint64_t>(d);
    }
  }
  if (too_large || count * item > data.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated .npy data: shape ", ShapeRepr(dims), " of '",
                     *header->descr, "' needs ", too_large ? "more than " : "",
                     too_large ? data.size() : count * item,
                     " bytes, the file has ", data.size()));
  }
  if (count * item < data.size()) {
    return Malformed(absl::StrCat(data.size() - count * item,
                                  " extra bytes after the data of shape ",
                                  ShapeRepr(dims)));
  }

  NpyArray array;
  array.dtype = *dtype;
  array.dims = dims;
  array.data.assign(data.begin(), data.end());
  if (array.dtype == DType::kBool) {
    for (uint8_t& b : array.data) b = b != 0;
  }
  return array;
}

std::string SerializeNpy(DType dtype, absl::Span<const int64_t> dims,
                         absl::Span<const uint8_t> data) {
  ADC_CHECK(static_cast<int64_t>(data.size()) ==
            NumElements(dims) * DTypeSize(dtype));
  std::string dict = absl::StrCat(
      "{'descr': '", NpyDescr(dtype),
      "', 'fortran_order': False, 'shape': ", ShapeRepr(dims), ", }");
  if (!dims.empty()) {
    dict.append(kGrowthAxisMaxDigits - std::min(kGrowthAxisMaxDigits,
                                                absl::StrCat(dims[0]).size()),
                ' ');
  }
  // Version 1.0 has a 2-byte header length, 2.0 a 4-byte one.
  int major = 1;
  size_t prefix = kMagicLen + 2 + 2;
  // As numpy: pad with 1 to 64 spaces, then '\n'.
  auto padded_len = [&](size_t prefix_len) {
    const size_t len = dict.size() + 1;
    return len + kAlign - (prefix_len + len) % kAlign;
  };
  if (padded_len(prefix) > 0xffff) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
  }
  const size_t header_len = padded_len(prefix);
  dict.append(header_len - dict.size() - 1, ' ');
  dict.push_back('\n');

  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  for (size_t i = 0; i < prefix - kMagicLen - 2; ++i) {
    out.push_back(static_cast<char>((header_len >> (8 * i)) & 0xff));
  }
  out += dict;
  out.append(reinterpret_cast<const char*>(data.data()), data.size());
  return out;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path,
                                 const NpyLimits& limits) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  const std::streamoff size = file.tellg();
  if (size < 0) {
    return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  }
  // The prefix first: a header longer than the limit is refused before the
  // file is read.
  constexpr std::streamoff kPrefix = 12;
  std::string contents(
      static_cast<size_t>(std::min<std::streamoff>(size, kPrefix)), '\0');
  file.seekg(0);
  file.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (std::optional<HeaderSpan> span = ClaimedHeader(contents)) {
    if (absl::Status s = CheckHeaderLength(span->length, limits); !s.ok()) {
      return WithPath(path, s);
    }
  }
  if (size > kPrefix) {
    contents.resize(static_cast<size_t>(size));
    file.read(contents.data() + kPrefix,
              static_cast<std::streamsize>(size - kPrefix));
  }
  if (file.bad() || file.fail()) {
    return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  }
  absl::StatusOr<NpyArray> array = ParseNpy(contents, limits);
  if (!array.ok()) return WithPath(path, array.status());
  return array;
}

absl::Status WriteNpy(const std::string& path, DType dtype,
                      absl::Span<const int64_t> dims,
                      absl::Span<const uint8_t> data) {
  return WriteFile(path, SerializeNpy(dtype, dims, data));
}

absl::StatusOr<Tensor> NpyToTensor(const NpyArray& array) {
  return Tensor::FromBytes(array.type(), array.data);
}

absl::StatusOr<Tensor> ReadNpyTensor(const std::string& path) {
  absl::StatusOr<NpyArray> array = ReadNpy(path);
  if (!array.ok()) return array.status();
  absl::StatusOr<Tensor> tensor = NpyToTensor(*array);
  if (!tensor.ok()) return WithPath(path, tensor.status());
  return tensor;
}

absl::Status WriteNpyTensor(const std::string& path, const Tensor& tensor) {
  const std::vector<uint8_t> bytes = tensor.ToBytes();
  return WriteNpy(path, tensor.dtype(), tensor.dims(), bytes);
}

}  // namespace adc
