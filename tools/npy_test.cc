#include "tools/npy.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "graph/file_io.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

// A .npy file with the given header text, padded as numpy pads it.
std::string FileWithHeader(const std::string& dict, const std::string& data,
                           int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) {
    out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  }
  return out + header + data;
}

TEST(NpyTest, RoundTripsEveryDType) {
  const std::vector<Tensor> tensors = {
      Tensor::FromDoubles({DType::kF32, {2, 3}}, {1, -2.5, 3, 4e10, 0, -0.0}),
      Tensor::FromDoubles({DType::kF64, {3}}, {1.0 / 3, -1e300, 5e-324}),
      Tensor::FromInts({DType::kI32, {2, 2}},
                       {-2147483648LL, 2147483647, 0, 7}),
      Tensor::FromInts({DType::kI64, {1, 2, 1}}, {-(1LL << 62), 1LL << 40}),
      Tensor::FromInts({DType::kBool, {4}}, {1, 0, 0, 1}),
      Tensor::Scalar(2.5, DType::kF32),
      Tensor::Scalar(7, DType::kI64),
      Tensor(TensorType{DType::kF32, {0, 3}}),
  };
  for (const Tensor& t : tensors) {
    SCOPED_TRACE(t.ToString());
    const std::vector<uint8_t> bytes = t.ToBytes();
    const std::string file = SerializeNpy(t.dtype(), t.dims(), bytes);
    absl::StatusOr<NpyArray> array = ParseNpy(file);
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_EQ(array->dtype, t.dtype());
    EXPECT_EQ(array->dims, t.dims());
    EXPECT_EQ(array->data, bytes);
    absl::StatusOr<Tensor> back = NpyToTensor(*array);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, t);
  }
}

TEST(NpyTest, WriterMatchesNumpyLayout) {
  const Tensor t =
      Tensor::FromDoubles({DType::kF32, {2, 3}}, {1, 2, 3, 4, 5, 6});
  const std::string file = SerializeNpy(t.dtype(), t.dims(), t.ToBytes());
  ASSERT_GE(file.size(), 10u);
  EXPECT_EQ(file.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len =
      static_cast<uint8_t>(file[8]) | (static_cast<uint8_t>(file[9]) << 8);
  const size_t data_start = 10 + header_len;
  EXPECT_EQ(data_start % 64, 0u);
  EXPECT_EQ(file[data_start - 1], '\n');
  EXPECT_EQ(file.size(), data_start + 24);
  // Byte-identical to numpy 1.24's numpy.save (including the spare room it
  // leaves for the first dimension to grow).
  const std::string expected_header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(file.substr(10, expected_header.size()), expected_header);
  EXPECT_EQ(header_len, 118u);

  EXPECT_NE(
      SerializeNpy(DType::kBool, {5}, std::vector<uint8_t>(5))
          .find("{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }"),
      std::string::npos);
  const std::string scalar =
      SerializeNpy(DType::kF64, {}, Tensor::Scalar(1, DType::kF64).ToBytes());
  EXPECT_NE(scalar.find("'shape': (), }"), std::string::npos);
  EXPECT_EQ((scalar.size() - 8) % 64, 0u);
}

TEST(NpyTest, LargeHeaderUsesVersion2) {
  Dims dims(30000, 1);
  const std::string file =
      SerializeNpy(DType::kI32, dims, std::vector<uint8_t>(4));
  EXPECT_EQ(file[6], 2);
  // Beyond the default header limit (64 KiB), and with the header limit
  // raised, beyond rank 32.
  EXPECT_FALSE(ParseNpy(file).ok());
  NpyLimits limits;
  limits.max_header_bytes = int64_t{1} << 20;
  absl::StatusOr<NpyArray> array = ParseNpy(file, limits);
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.status().message().find("has rank 30000, more than 32"),
            std::string::npos)
      << array.status();
  // Version 2 within the limits.
  const std::string v2 = FileWithHeader(
      "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
      std::string(4, '\0'), /*major=*/2);
  array = ParseNpy(v2);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dims, Dims{1});
}

TEST(NpyTest, ParsesHeaderVariants) {
  const std::string four(4, '\0');
  struct Case {
    std::string dict;
    Dims dims;
    DType dtype;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
       {},
       DType::kF32},
      // Any key order, double quotes, no trailing comma, Python 2 longs.
      {"{\"shape\": (1L,), \"fortran_order\": False, \"descr\": \"<i4\"}",
       {1},
       DType::kI32},
      {"{'descr':'|b1','fortran_order':False,'shape':(2,2)}",
       {2, 2},
       DType::kBool},
      {"{'descr': '=f4', 'fortran_order': False, 'shape': (1, 1, 1), }",
       {1, 1, 1},
       DType::kF32},
      // Fortran order is harmless when at most one dim exceeds 1.
      {"{'descr': '<i4', 'fortran_order': True, 'shape': (1,), }",
       {1},
       DType::kI32},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dict);
    const std::string data = four;  // Every case holds 4 bytes of data.
    for (int major : {1, 2, 3}) {
      absl::StatusOr<NpyArray> array =
          ParseNpy(FileWithHeader(c.dict, data, major));
      ASSERT_TRUE(array.ok()) << array.status();
      EXPECT_EQ(array->dims, c.dims);
      EXPECT_EQ(array->dtype, c.dtype);
    }
  }
  // Bool bytes are normalized to 0/1.
  absl::StatusOr<NpyArray> b = ParseNpy(FileWithHeader(
      "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
      std::string("\x05\x00", 2)));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data, (std::vector<uint8_t>{1, 0}));
}

TEST(NpyTest, RejectsBadFiles) {
  const std::string good_dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string data(8, '\0');
  struct Case {
    std::string contents;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "bad magic"},
      {"hello world, this is not npy", "bad magic"},
      {std::string("\x93NUMPY", 6), "bad magic"},
      {std::string("\x93NUMPY\x01\x00\x10", 9), "truncated header"},
      {std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17),
       "truncated header"},
      {std::string("\x93NUMPY\x04\x00", 8) + "xx", "version 4.0"},
      {FileWithHeader(good_dict, data.substr(0, 7)), "truncated .npy data"},
      {FileWithHeader(good_dict, data + "x"), "extra bytes"},
      {FileWithHeader(
           "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data),
       "big-endian"},
      {FileWithHeader(
           "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", data),
       "unsupported .npy dtype '<u2'"},
      {FileWithHeader(
           "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", data),
       "unsupported .npy dtype"},
      {FileWithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, "
                      "'shape': (2,), }",
                      data),
       "structured"},
      {FileWithHeader(
           "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
           data + data),
       "Fortran-order"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False}", data),
       "needs the keys"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                      "'extra': 1}",
                      data),
       "unexpected header key 'extra'"},
      {FileWithHeader(
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': "
           "(2,)}",
           data),
       "appears twice"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
                      data),
       "not True or False"},
      {FileWithHeader(
           "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", data),
       "negative dimension"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}",
                      data),
       "other than integers"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': "
                      "(99999999999999999999,)}",
                      data),
       "too large"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': "
                      "(4294967296, 4294967296, 4294967296)}",
                      data),
       "has more than 1099511627776 elements"},
      // Found by the npy fuzzer: no elements, but the nonzero dimensions
      // multiply past int64 (NumPy refuses it too: "array is too big").
      {FileWithHeader("{'descr': '|b1', 'fortran_order': False, 'shape': "
                      "(8, 30, 2222222222222, 9, 0)}",
                      ""),
       "the .npy shape [8,30,2222222222222,9,0] has more than"},
      {FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
                      data),
       "expected ',' or '}'"},
      {FileWithHeader("['descr']", data), "not a dict"},
      {FileWithHeader(
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", data),
       "junk after"},
      {FileWithHeader("{'descr': '<f4, 'fortran_order': False}", data),
       "expected ',' or '}'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.contents);
    absl::StatusOr<NpyArray> array = ParseNpy(c.contents);
    ASSERT_FALSE(array.ok());
    EXPECT_NE(array.status().message().find(c.message), std::string::npos)
        << array.status();
  }
}

TEST(NpyTest, EveryTruncationIsAnErrorNotACrash) {
  const Tensor t =
      Tensor::FromDoubles({DType::kF64, {3, 2}}, {1, 2, 3, 4, 5, 6});
  const std::string file = SerializeNpy(t.dtype(), t.dims(), t.ToBytes());
  for (size_t n = 0; n < file.size(); ++n) {
    EXPECT_FALSE(ParseNpy(file.substr(0, n)).ok()) << n;
  }
  // Flipping any header byte never crashes.
  for (size_t i = 0; i < file.size() - 48; ++i) {
    std::string corrupt = file;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    (void)ParseNpy(corrupt);
  }
}

TEST(NpyTest, FilesRoundTripAndErrorsNameThePath) {
  const std::string dir = testing::TempDir();
  const std::string path = dir + "/t.npy";
  const Tensor t = Tensor::FromInts({DType::kI64, {2}}, {3, -4});
  ASSERT_TRUE(WriteNpyTensor(path, t).ok());
  absl::StatusOr<Tensor> back = ReadNpyTensor(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);

  absl::StatusOr<Tensor> missing = ReadNpyTensor(dir + "/missing.npy");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.npy"), std::string::npos);

  const std::string bad = dir + "/bad.npy";
  FILE* f = std::fopen(bad.c_str(), "wb");
  std::fputs("not numpy", f);
  std::fclose(f);
  absl::StatusOr<Tensor> malformed = ReadNpyTensor(bad);
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("bad.npy: not a valid .npy file"),
            std::string::npos)
      << malformed.status();

  EXPECT_FALSE(WriteNpyTensor(dir + "/no/such/dir/x.npy", t).ok());
}

// Hostile or corrupt files are refused by what they claim, before anything
// is allocated for it: a header over NpyLimits::max_header_bytes (ReadNpy
// reads only the first 12 bytes of such a file), a rank over 32. The header
// limit is settable.
TEST(NpyTest, LimitsRefuseHugeHeadersAndRanks) {
  // Version 2: a 4-byte header length claiming 2^31 bytes.
  std::string huge("\x93NUMPY\x02\x00\x00\x00\x00\x80", 12);
  absl::StatusOr<NpyArray> a = ParseNpy(huge);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("NpyLimits::max_header_bytes"),
            std::string::npos)
      << a.status();
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/huge_header.npy";
  ASSERT_TRUE(WriteFile(path, huge + std::string(1000, ' ')).ok());
  absl::StatusOr<NpyArray> read = ReadNpy(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("max_header_bytes"),
            std::string::npos);
  EXPECT_NE(read.status().message().find("huge_header.npy"), std::string::npos);

  std::string shape = "(";
  for (int i = 0; i < 33; ++i) shape += "1, ";
  shape += ")";
  const std::string deep = FileWithHeader(
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
      std::string(4, '\0'));
  absl::StatusOr<NpyArray> b = ParseNpy(deep);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(
      b.status().message().find("the .npy shape has rank 33, more than 32"),
      std::string::npos)
      << b.status();

  const std::string small = FileWithHeader(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
      std::string(4, '\0'));
  EXPECT_TRUE(ParseNpy(small).ok());
  NpyLimits tight;
  tight.max_header_bytes = 16;
  EXPECT_FALSE(ParseNpy(small, tight).ok());
}

}  // namespace
}  // namespace adc
