// Random graphs (passes/pass_test_util.h: element-wise ops, broadcasts,
// reductions, splats of special values, half with their gradients) compiled
// and compared with the reference interpreter, on ordinary inputs and on
// inputs with special values (-0, +-inf, NaN, tiny and huge numbers).
#include <random>

#include "absl/strings/str_cat.h"
#include "codegen/testing.h"
#include "graph/serialize.h"
#include "gtest/gtest.h"
#include "passes/pass_test_util.h"

namespace adc {
namespace {

TEST(RandomGraphsTest, CompiledMatchesInterpreter) {
  std::mt19937 rng(20261129);
  const std::vector<Dims> shapes = {{2, 3}, {5, 37}, {3, 1000}};
  for (int i = 0; i < 24; ++i) {
    const Dims& dims = shapes[i % shapes.size()];
    const Graph g = pass_test::RandomGraph(rng, dims);
    for (int round = 0; round < 2; ++round) {
      SCOPED_TRACE(absl::StrCat("graph ", i, ", ", round ? "special" : "plain",
                                " inputs"));
      const auto feeds =
          pass_test::RandomFeeds(g, 100 * i + round, round ? 1.0 / 3 : 0.0);
      absl::Status s = testing::ExpectCompiledMatchesInterpreter(g, feeds);
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
          testing::ExpectCompiledMatchesInterpreter(all, feeds);
      ADD_FAILURE() << s << "\nwith every value an output: " << every << "\n"
                    << GraphToText(g);
      return;
    }
  }
}

}  // namespace
}  // namespace adc
