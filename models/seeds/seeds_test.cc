// The checked-in seed graphs are exactly what the builder writes, and they
// give the core issue's values.
#include "models/seeds/seeds.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

std::string ReadRunfile(const std::string& path) {
  std::ifstream f(std::string(std::getenv("TEST_SRCDIR")) + "/adc/" + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(SeedsTest, FilesMatchTheBuilder) {
  EXPECT_EQ(ReadRunfile("models/seeds/scalar.pbtxt"),
            GraphToText(seeds::Scalar()))
      << "regenerate with: bazel run //models/seeds:write_seeds -- "
         "$PWD/models/seeds";
  EXPECT_EQ(ReadRunfile("models/seeds/composite.pbtxt"),
            GraphToText(seeds::Composite()));
}

TEST(SeedsTest, Values) {
  Graph scalar = seeds::Scalar(DType::kF64);
  ASSERT_TRUE(AddGradients(&scalar, {.of = "y"}).ok());
  auto out = Interpret(scalar, {{"x1", Tensor::Scalar(2, DType::kF64)},
                                {"x2", Tensor::Scalar(3, DType::kF64)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR((*out)["x1.grad"].GetDouble(0), 3, 1e-12);
  EXPECT_NEAR((*out)["x2.grad"].GetDouble(0), 2.989992496600445, 1e-12);

  Graph composite = seeds::Composite(DType::kF64);
  ASSERT_TRUE(AddGradients(&composite, {.of = "f"}).ok());
  out = Interpret(composite, {{"x1", Tensor::Scalar(1.5, DType::kF64)},
                              {"x2", Tensor::Scalar(0.5, DType::kF64)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR((*out)["f"].GetDouble(0), 1.0469726768804155, 1e-12);
  EXPECT_NEAR((*out)["x1.grad"].GetDouble(0), 0.23283374747559749, 1e-12);
  EXPECT_NEAR((*out)["x2.grad"].GetDouble(0), 1.6165488003791766, 1e-12);
}

}  // namespace
}  // namespace adc
