// Two adc_library targets linked into one binary, called through their typed
// entry points.
#include "gtest/gtest.h"
#include "models/seeds/composite_grad.h"
#include "models/seeds/scalar_grad.h"

namespace {

TEST(AdcLibraryTest, ScalarFromPbtxt) {
  const float x1 = 2, x2 = 3;
  float y = 0, g1 = 0, g2 = 0;
  ASSERT_EQ(scalar_grad(&x1, &x2, &y, &g1, &g2), 0) << scalar_grad_last_error();
  EXPECT_NEAR(y, 5.858879991940133, 1e-5);
  EXPECT_NEAR(g1, 3, 1e-6);
  EXPECT_NEAR(g2, 2.989992496600445, 1e-6);
  EXPECT_EQ(scalar_grad_shapes::x1_num_elements, 1);
}

TEST(AdcLibraryTest, CompositeFromBuilderProgram) {
  const float x1 = 1.5, x2 = 0.5;
  float f = 0, g1 = 0, g2 = 0;
  ASSERT_EQ(composite_grad(&x1, &x2, &f, &g1, &g2), 0)
      << composite_grad_last_error();
  EXPECT_NEAR(f, 1.0469726768804155, 1e-5);
  EXPECT_NEAR(g1, 0.23283374747559749, 1e-5);
  EXPECT_NEAR(g2, 1.6165488003791766, 1e-5);
}

}  // namespace
