#include "tools/dot.h"

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

// One node statement of the DOT text and the cluster it sits in ("" at top
// level).
struct DotNode {
  std::string line;
  std::string cluster;
};

// Node statements by DOT id ("n3", "out0"), and edges "a -> b".
struct ParsedDot {
  std::map<std::string, DotNode> nodes;
  std::vector<std::string> edges;
};

ParsedDot Parse(const std::string& dot) {
  ParsedDot parsed;
  std::istringstream in(dot);
  std::string line;
  std::string cluster;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    const std::string s = line.substr(start);
    if (absl::StartsWith(s, "subgraph ")) {
      cluster = s.substr(9, s.find(' ', 9) - 9);
    } else if (s == "}") {
      cluster.clear();
    } else if (absl::StrContains(s, " -> ")) {
      parsed.edges.push_back(s.substr(0, s.size() - 1));  // Drop ';'.
    } else if ((s[0] == 'n' || absl::StartsWith(s, "out")) &&
               absl::StrContains(s, " [label=")) {
      parsed.nodes[s.substr(0, s.find(' '))] = {s, cluster};
    }
  }
  return parsed;
}

std::string Fill(const char* color) {
  return absl::StrCat("fillcolor=\"", color, "\"");
}

class DotTest : public testing::Test {
 protected:
  void SetUp() override {
    // y = w * x1 * x2 - sin(x2) + 2, differentiated w.r.t. x1, x2 and w.
    GraphBuilder b("small");
    Value x1 = b.Input("x1", DType::kF32, {});
    Value x2 = b.Input("x2", DType::kF32, {});
    Value w = b.Parameter("w", Tensor::Scalar(3));
    b.Output("y", w * x1 * x2 - Sin(x2) + 2.0);
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_TRUE(g.ok()) << g.status();
    graph_ = std::move(*g);
    GradOptions options;
    options.of = "y";
    ASSERT_TRUE(AddGradients(&graph_, options).ok());
    dot_ = GraphToDot(graph_);
    parsed_ = Parse(dot_);
  }

  const DotNode& NodeOf(const std::string& name) {
    std::optional<ValueId> id = graph_.Find(name);
    EXPECT_TRUE(id.has_value()) << name;
    return parsed_.nodes[absl::StrCat("n", id.value_or(0))];
  }

  Graph graph_;
  std::string dot_;
  ParsedDot parsed_;
};

TEST_F(DotTest, IsADigraphWithOneStatementPerNodeAndOutput) {
  EXPECT_TRUE(absl::StartsWith(dot_, "digraph \"small\" {\n")) << dot_;
  EXPECT_TRUE(absl::EndsWith(dot_, "}\n"));
  EXPECT_EQ(parsed_.nodes.size(), graph_.num_nodes() + graph_.outputs().size());
  size_t edges = graph_.outputs().size();
  for (const Node& node : graph_.nodes()) edges += node.inputs.size();
  EXPECT_EQ(parsed_.edges.size(), edges);
}

TEST_F(DotTest, LeavesAreColoredByKind) {
  const DotNode& x1 = NodeOf("x1");
  EXPECT_TRUE(absl::StrContains(x1.line, "label=\"x1\\ninput\\nf32[]\""))
      << x1.line;
  EXPECT_TRUE(absl::StrContains(x1.line, Fill(kInputColor)));
  EXPECT_TRUE(absl::StrContains(NodeOf("x2").line, Fill(kInputColor)));
  const DotNode& w = NodeOf("w");
  EXPECT_TRUE(absl::StrContains(w.line, "w\\nparameter\\nf32[]"));
  EXPECT_TRUE(absl::StrContains(w.line, Fill(kParameterColor)));
  EXPECT_STRNE(kInputColor, kParameterColor);

  int constants = 0;
  for (const Node& node : graph_.nodes()) {
    if (node.op != OpKind::kConstant || node.grad_level > 0) continue;
    ++constants;
    const DotNode& c = NodeOf(node.name);
    EXPECT_TRUE(absl::StrContains(c.line, Fill(kConstantColor))) << c.line;
    EXPECT_TRUE(absl::StrContains(c.line, "fontsize=7")) << c.line;
    EXPECT_EQ(c.cluster, "");
  }
  EXPECT_GE(constants, 1);  // The forward "+ 2".
}

TEST_F(DotTest, ForwardAndGradientPartsAreDistinct) {
  int forward_ops = 0;
  int grad_ops = 0;
  for (const Node& node : graph_.nodes()) {
    const DotNode& d = NodeOf(node.name);
    if (node.grad_level == 0) {
      EXPECT_EQ(d.cluster, "") << d.line;
      EXPECT_FALSE(absl::StrContains(d.line, Fill(GradColor(1)))) << d.line;
      if (node.op != OpKind::kInput && node.op != OpKind::kParameter &&
          node.op != OpKind::kConstant) {
        ++forward_ops;
        EXPECT_TRUE(absl::StrContains(d.line, Fill(kOpColor))) << d.line;
      }
    } else {
      ++grad_ops;
      EXPECT_EQ(d.cluster, "cluster_grad1") << d.line;
      EXPECT_TRUE(absl::StrContains(
          d.line,
          Fill(node.op == OpKind::kConstant ? kConstantColor : GradColor(1))))
          << d.line;
    }
  }
  EXPECT_GE(forward_ops, 3);
  EXPECT_GE(grad_ops, 2);
  EXPECT_TRUE(absl::StrContains(dot_, "label=\"gradient (autodiff #1)\""));
  // A forward op's label: name, op, type.
  EXPECT_TRUE(absl::StrContains(dot_, "\\nsin\\nf32[]\""));
}

TEST_F(DotTest, OutputsAreRootsColoredByKind) {
  int grads = 0;
  for (size_t i = 0; i < graph_.outputs().size(); ++i) {
    const GraphOutput& out = graph_.outputs()[i];
    const DotNode& d = parsed_.nodes[absl::StrCat("out", i)];
    EXPECT_TRUE(absl::StrContains(
        d.line, absl::StrCat("label=\"", out.name, "\\noutput\\nf32[]\"")))
        << d.line;
    EXPECT_TRUE(absl::StrContains(
        d.line, Fill(out.is_gradient ? kGradOutputColor : kOutputColor)))
        << d.line;
    EXPECT_NE(std::find(parsed_.edges.begin(), parsed_.edges.end(),
                        absl::StrCat("n", out.value, " -> out", i)),
              parsed_.edges.end());
    grads += out.is_gradient;
  }
  EXPECT_EQ(grads, 3);  // x1.grad, x2.grad, w.grad.
}

TEST_F(DotTest, SecondOrderGetsItsOwnCluster) {
  GradOptions options;
  options.of = "x1.grad";
  options.wrt = {"x2"};
  ASSERT_TRUE(AddGradients(&graph_, options).ok());
  const ParsedDot parsed = Parse(GraphToDot(graph_));
  int level2 = 0;
  for (const auto& [id, node] : parsed.nodes) {
    if (node.cluster == "cluster_grad2" &&
        !absl::StrContains(node.line, Fill(kConstantColor))) {
      ++level2;
      EXPECT_TRUE(absl::StrContains(node.line, Fill(GradColor(2))));
    }
  }
  EXPECT_GE(level2, 1);
  EXPECT_STRNE(GradColor(1), GradColor(2));
}

TEST(DotQuoteTest, EscapesNames) {
  GraphBuilder b("say \"hi\" \\ bye");
  b.Output("y", Sin(b.Input("x", DType::kF64, {2})));
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const std::string dot = GraphToDot(*g);
  EXPECT_TRUE(absl::StartsWith(dot, "digraph \"say \\\"hi\\\" \\\\ bye\" {"))
      << dot;
  EXPECT_TRUE(absl::StrContains(dot, "\"x\\ninput\\nf64[2]\""));
}

}  // namespace
}  // namespace adc
