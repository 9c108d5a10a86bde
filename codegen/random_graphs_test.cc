// Random graphs (passes/pass_test_util.h: element-wise ops, broadcasts,
// reductions, matmul, gather, scatter_add, cumsum, concat, pad, splats of
// special values, half with their gradients) compiled and compared with the
// reference interpreter, on ordinary inputs and on inputs with special
// values (-0, +-inf, NaN, tiny and huge numbers). 24 graphs on the host's
// own level; every third of them on each memory-checked level
// (codegen/testing.h) the CPU can run.
#include <random>

#include "absl/strings/str_cat.h"
#include "codegen/testing.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

class RandomGraphsTest
    : public ::testing::TestWithParam<testing::FeatureLevel> {};

INSTANTIATE_TEST_SUITE_P(
    Levels, RandomGraphsTest, ::testing::ValuesIn(testing::FeatureLevels()),
    [](const ::testing::TestParamInfo<testing::FeatureLevel>& info) {
      return info.param.name;
    });

TEST_P(RandomGraphsTest, CompiledMatchesInterpreter) {
  const testing::FeatureLevel& level = GetParam();
  const std::string why = testing::WhyNotRunnable(level);
  if (!why.empty()) GTEST_SKIP() << "level " << level.name << ": " << why;
  std::mt19937 rng(20261129);
  const std::vector<Dims> shapes = {{2, 3}, {5, 37}, {3, 1000}};
  for (int i = 0; i < 24; ++i) {
    const Dims& dims = shapes[i % shapes.size()];
    const Graph g = pass_test::RandomGraph(rng, dims);
    if (level.memory_checked && i % 3 != 0) continue;
    SCOPED_TRACE(absl::StrCat("graph ", i, " on ", level.name));
    const std::vector<std::map<std::string, Tensor>> feeds = {
        pass_test::RandomFeeds(g, 100 * i, 0.0),
        pass_test::RandomFeeds(g, 100 * i + 1, 1.0 / 3)};
    absl::Status s =
        testing::ExpectCompiledMatchesInterpreter(g, feeds, level.options());
    if (s.ok()) continue;
    // Every value an output (floating-point ones; graph inputs excluded):
    // the first differing node in the listing is the culprit.
    Graph all = g;
    for (ValueId v = 0; v < all.num_nodes(); ++v) {
      const Node& n = all.node(v);
      if (n.op != OpKind::kInput && n.op != OpKind::kParameter &&
          IsFloat(n.type.dtype) && !all.FindOutput(n.name)) {
        all.AddOutput(absl::StrCat("value:", n.name), v);
      }
    }
    absl::Status every =
        testing::ExpectCompiledMatchesInterpreter(all, feeds, level.options());
    ADD_FAILURE() << s << " (inputs #1 have special values)"
                  << "\nwith every value an output: " << every << "\n"
                  << GraphToText(g);
    return;
  }
}

}  // namespace
}  // namespace adc
