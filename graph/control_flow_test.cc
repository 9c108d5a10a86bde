// Control flow in the IR: the builder's Cond, WhileLoop and ForLoop, the
// verifier's checks of branch and body signatures, the interpreter (one run
// per construct, max_iterations as a run-time error naming the loop) and the
// file format (version 3, round trip).
#include "graph/control_flow.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/interpreter.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"

namespace adc {
namespace {

using ::testing::HasSubstr;

// The tutorials' example: b = 2a; while norm(b) < 1000: b = 2b;
// c = b if sum(b) > 0 else 100 b.
Graph Tutorial(Dims dims) {
  GraphBuilder b("tutorial");
  Value a = b.Input("a", DType::kF64, dims);
  std::vector<Value> loop = WhileLoop(
      b,
      [](GraphBuilder& fb, const std::vector<Value>& c,
         const std::vector<Value>&) {
        return Lt(Sqrt(Sum(Square(c[0]))), Scalar(fb, 1000, DType::kF64));
      },
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>&) { return std::vector<Value>{2.0 * c[0]}; },
      {2.0 * a}, /*max_iterations=*/1000);
  std::vector<Value> c = Cond(
      Gt(Sum(loop[0]), Scalar(b, 0, DType::kF64)),
      [](GraphBuilder&, const std::vector<Value>& o) { return o; },
      [](GraphBuilder&, const std::vector<Value>& o) {
        return std::vector<Value>{100.0 * o[0]};
      },
      loop);
  b.Output("c", c[0]);
  absl::StatusOr<Graph> g = b.Build();
  ADC_CHECK_MSG(g.ok(), g.status().ToString());
  return *std::move(g);
}

// The tutorial's value as PyTorch computes it, element by element.
std::vector<double> TutorialValue(const std::vector<double>& a) {
  std::vector<double> b;
  for (double x : a) b.push_back(2 * x);
  auto norm = [&] {
    double s = 0;
    for (double x : b) s += x * x;
    return std::sqrt(s);
  };
  while (norm() < 1000) {
    for (double& x : b) x *= 2;
  }
  double sum = 0;
  for (double x : b) sum += x;
  if (sum <= 0) {
    for (double& x : b) x *= 100;
  }
  return b;
}

TEST(ControlFlowTest, TutorialValuesMatchTheLoopRunByHand) {
  for (const std::vector<double>& a :
       {std::vector<double>{0.37}, std::vector<double>{-1.3},
        std::vector<double>{0.5, -0.25, 1.5, 0.75, -2.0, 0.125},
        std::vector<double>{-0.5, -0.25, 1.5, -0.75, -2.0, 0.125}}) {
    const Dims dims = a.size() == 1 ? Dims{} : Dims{2, 3};
    const Graph g = Tutorial(dims);
    ASSERT_TRUE(Verify(g).ok()) << Verify(g);
    absl::StatusOr<std::map<std::string, Tensor>> out =
        Interpret(g, {{"a", Tensor::FromDoubles({DType::kF64, dims}, a)}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->at("c").doubles(), TutorialValue(a));
  }
}

TEST(ControlFlowTest, ForLoopRunsExactlyNTimesWithItsCounter) {
  // x_{i+1} = x_i * 2 + i for i in 0..4: 1 -> 2 -> 5 -> 12 -> 27 -> 58.
  GraphBuilder b("for");
  Value x = b.Input("x", DType::kF32, {2});
  Value w = b.Input("w", DType::kF32, {2});
  std::vector<Value> r = ForLoop(
      b, 5,
      [](GraphBuilder&, Value i, const std::vector<Value>& c,
         const std::vector<Value>& captured) {
        return std::vector<Value>{c[0] * captured[0] + Cast(i, DType::kF32)};
      },
      {x}, {w});
  ASSERT_EQ(r.size(), 1u);
  b.Output("y", r[0]);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<std::map<std::string, Tensor>> out =
      Interpret(*g, {{"x", Tensor::FromDoubles({DType::kF32, {2}}, {1, 0})},
                     {"w", Tensor::FromDoubles({DType::kF32, {2}}, {2, 1})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y").doubles(), (std::vector<double>{58, 10}));
}

TEST(ControlFlowTest, SeveralResultsAreNodesOfOneConstruct) {
  // Fibonacci pairs: (a, b) -> (b, a + b) while b < 100.
  GraphBuilder b("fib");
  Value a0 = b.Input("a", DType::kI32, {});
  Value b0 = b.Input("b", DType::kI32, {});
  std::vector<Value> r = WhileLoop(
      b,
      [](GraphBuilder& fb, const std::vector<Value>& c,
         const std::vector<Value>&) {
        return Lt(c[1], Scalar(fb, 100, DType::kI32));
      },
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>&) {
        return std::vector<Value>{c[1], c[0] + c[1]};
      },
      {a0, b0}, 100, {}, "fib");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name(), "fib.0");
  EXPECT_EQ(r[1].name(), "fib.1");
  b.Output("x", r[0]);
  b.Output("y", r[1]);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const std::vector<std::vector<ValueId>> constructs = Constructs(*g);
  ASSERT_EQ(constructs.size(), 1u);
  EXPECT_EQ(constructs[0], (std::vector<ValueId>{r[0].id(), r[1].id()}));
  EXPECT_EQ(NumResults(g->node(r[0].id()), *g), 2);
  absl::StatusOr<std::map<std::string, Tensor>> out =
      Interpret(*g, {{"a", Tensor::Scalar(0, DType::kI32)},
                     {"b", Tensor::Scalar(1, DType::kI32)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("x").GetInt(0), 89);
  EXPECT_EQ(out->at("y").GetInt(0), 144);
}

TEST(ControlFlowTest, ExceedingMaxIterationsIsAnErrorNamingTheLoop) {
  GraphBuilder b("runaway");
  Value x = b.Input("x", DType::kF32, {});
  std::vector<Value> r = WhileLoop(
      b,
      [](GraphBuilder& fb, const std::vector<Value>& c,
         const std::vector<Value>&) { return Lt(c[0], Scalar(fb, 100)); },
      [](GraphBuilder&, const std::vector<Value>& c,
         const std::vector<Value>&) { return std::vector<Value>{c[0] + 1.0}; },
      {x}, /*max_iterations=*/10, {}, "count");
  b.Output("y", r[0]);
  absl::StatusOr<Graph> g = b.Build();
  ASSERT_TRUE(g.ok()) << g.status();
  // 10 iterations from 90 reach 100: fine. From 89 an 11th is needed.
  absl::StatusOr<std::map<std::string, Tensor>> ok =
      Interpret(*g, {{"x", Tensor::Scalar(90)}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at("y").GetDouble(0), 100);
  absl::StatusOr<std::map<std::string, Tensor>> bad =
      Interpret(*g, {{"x", Tensor::Scalar(89)}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("while_loop 'count' exceeded max_iterations = 10"));
}

TEST(ControlFlowTest, BuilderErrorsNameTheConstruct) {
  {
    GraphBuilder b("g");
    Value x = b.Input("x", DType::kF32, {3});
    Cond(
        Gt(Sum(x), Scalar(b, 0)),
        [](GraphBuilder&, const std::vector<Value>& o) { return o; },
        [](GraphBuilder&, const std::vector<Value>& o) {
          return std::vector<Value>{Sum(o[0])};
        },
        {x}, "pick");
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_FALSE(g.ok());
    EXPECT_THAT(g.status().message(), HasSubstr("cond 'pick' else branch"));
    EXPECT_THAT(g.status().message(), HasSubstr("must be f32[3]"));
  }
  {
    GraphBuilder b("g");
    Value x = b.Input("x", DType::kF32, {3});
    WhileLoop(
        b,
        [](GraphBuilder&, const std::vector<Value>& c,
           const std::vector<Value>&) { return Sum(c[0]); },
        [](GraphBuilder&, const std::vector<Value>& c,
           const std::vector<Value>&) { return c; },
        {x}, 5, {}, "loop");
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_FALSE(g.ok());
    EXPECT_THAT(g.status().message(), HasSubstr("while_loop 'loop' condition"));
  }
  {
    // A value of the enclosing graph used inside a body (not passed in).
    GraphBuilder b("g");
    Value x = b.Input("x", DType::kF32, {3});
    WhileLoop(
        b,
        [](GraphBuilder& fb, const std::vector<Value>& c,
           const std::vector<Value>&) { return Lt(Sum(c[0]), Scalar(fb, 1)); },
        [x](GraphBuilder&, const std::vector<Value>&,
            const std::vector<Value>&) { return std::vector<Value>{x}; },
        {x}, 5, {}, "loop");
    absl::StatusOr<Graph> g = b.Build();
    ASSERT_FALSE(g.ok());
    EXPECT_THAT(g.status().message(), HasSubstr("another graph"));
  }
}

TEST(ControlFlowTest, VerifierChecksSignaturesAgainstTheLibrary) {
  Graph g = Tutorial({});
  ASSERT_TRUE(Verify(g).ok());
  std::string text = GraphToText(g);
  // The cond node claims a result type its branches do not return.
  const size_t at = text.find("op: \"cond\"");
  ASSERT_NE(at, std::string::npos);
  std::string bad = text;
  const size_t shape = bad.find("key: \"result\"", at);
  ASSERT_NE(shape, std::string::npos);
  bad.replace(bad.find("i: 0", shape), 4, "i: 3");
  absl::StatusOr<Graph> loaded = GraphFromText(bad);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("result 3 but the branches return 1 value(s)"));
  // A body function that is not in the library.
  std::string missing = text;
  const size_t body = missing.find("key: \"body\"");
  ASSERT_NE(body, std::string::npos);
  const size_t name = missing.find("s: \"", body) + 4;
  missing.insert(name, "nope");
  loaded = GraphFromText(missing);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("is not in the library"));
}

TEST(ControlFlowTest, FormatVersion3RoundTrips) {
  const Graph g = Tutorial({2, 3});
  const std::string text = GraphToText(g);
  EXPECT_THAT(text, HasSubstr("version: 3"));
  absl::StatusOr<Graph> back = GraphFromText(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(GraphToText(*back), text);
  const Tensor a = Tensor::FromDoubles({DType::kF64, {2, 3}},
                                       {0.5, -0.25, 1.5, 0.75, -2.0, 0.125});
  absl::StatusOr<std::map<std::string, Tensor>> x = Interpret(g, {{"a", a}});
  absl::StatusOr<std::map<std::string, Tensor>> y =
      Interpret(*back, {{"a", a}});
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->at("c"), y->at("c"));
}

// A hand-written file: a loop on x whose cond is function c and body b.
std::string LoopFile(const std::string& cond_body, const std::string& body) {
  auto function = [](const std::string& name, const std::string& nodes) {
    return "functions { name: \"" + name + "\" body { name: \"" + name +
           "\" inputs { name: \"x0\" type { dtype: F32 } } " + nodes + " } }\n";
  };
  const std::string loop =
      "nodes { name: \"w\" op: \"while_loop\" inputs: \"x\" "
      "attrs { key: \"cond\" value { s: \"c\" } } "
      "attrs { key: \"body\" value { s: \"b\" } } "
      "attrs { key: \"max_iterations\" value { i: 3 } } }";
  return "version: 3\nname: \"f\"\ninputs { name: \"x\" type { dtype: F32 "
         "} }\n" +
         loop + "\noutputs { name: \"y\" value: \"w\" }\n" +
         function("c", cond_body) + function("b", body);
}

// Loops nested `depth` functions deep: function b<i>'s body loops with body
// b<i+1>; the innermost is the identity.
std::string NestedLoopsFile(int depth) {
  auto loop = [](const std::string& input, const std::string& body) {
    return "nodes { name: \"w\" op: \"while_loop\" inputs: \"" + input +
           "\" attrs { key: \"cond\" value { s: \"c\" } } "
           "attrs { key: \"body\" value { s: \"" +
           body + "\" } } attrs { key: \"max_iterations\" value { i: 1 } } }";
  };
  auto function = [](const std::string& name, const std::string& nodes,
                     const std::string& result) {
    return "functions { name: \"" + name + "\" body { name: \"" + name +
           "\" inputs { name: \"x0\" type { dtype: F32 } } " + nodes +
           " outputs { name: \"y0\" value: \"" + result + "\" } } }\n";
  };
  std::string text =
      "version: 3\nname: \"f\"\ninputs { name: \"x\" type { dtype: F32 } "
      "}\n" +
      loop("x", "b0") + "\noutputs { name: \"y\" value: \"w\" }\n" +
      "functions { name: \"c\" body { name: \"c\" inputs { name: \"x0\" "
      "type { dtype: F32 } } nodes { name: \"t\" op: \"less\" inputs: "
      "\"x0\" inputs: \"x0\" } outputs { name: \"y0\" value: \"t\" } } "
      "}\n";
  for (int i = 0; i < depth; ++i) {
    const std::string name = "b" + std::to_string(i);
    text += i + 1 < depth
                ? function(name, loop("x0", "b" + std::to_string(i + 1)), "w")
                : function(name, "", "x0");
  }
  return text;
}

TEST(ControlFlowTest, CallNestingIsLimited) {
  // b0 calls b1 ... calls b<depth-1>: depth functions deep (the calls of
  // the condition c are no deeper).
  absl::StatusOr<Graph> ok = GraphFromText(NestedLoopsFile(kMaxCallDepth));
  ASSERT_TRUE(ok.ok()) << ok.status();
  const Tensor x = Tensor::Scalar(1.5, DType::kF32);
  absl::StatusOr<std::map<std::string, Tensor>> y = Interpret(*ok, {{"x", x}});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->at("y"), x);
  for (int depth : {kMaxCallDepth + 1, 5000}) {
    SCOPED_TRACE(depth);
    absl::StatusOr<Graph> g = GraphFromText(NestedLoopsFile(depth));
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(g.status().message(),
                HasSubstr("calls nest more than 100 deep (kMaxCallDepth)"));
  }
}

TEST(ControlFlowTest, MalformedFilesGetErrorsNotCrashes) {
  const std::string less =
      "nodes { name: \"t\" op: \"less\" inputs: \"x0\" inputs: \"x0\" } "
      "outputs { name: \"y0\" value: \"t\" }";
  const std::string identity = "outputs { name: \"y0\" value: \"x0\" }";
  absl::StatusOr<Graph> ok = GraphFromText(LoopFile(less, identity));
  ASSERT_TRUE(ok.ok()) << ok.status();
  // The loop's condition is f32, not bool.
  absl::StatusOr<Graph> g = GraphFromText(LoopFile(identity, identity));
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(),
              HasSubstr("cond function 'c' is (f32[]) -> (f32[]) but the call "
                        "needs (f32[]) -> (bool[])"));
  // The body runs the loop itself: a call cycle.
  const std::string recursive =
      "nodes { name: \"w\" op: \"while_loop\" inputs: \"x0\" "
      "attrs { key: \"cond\" value { s: \"c\" } } "
      "attrs { key: \"body\" value { s: \"b\" } } "
      "attrs { key: \"max_iterations\" value { i: 3 } } } "
      "outputs { name: \"y0\" value: \"w\" }";
  g = GraphFromText(LoopFile(less, recursive));
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("calls itself"));
  // Result 1 of a loop that carries one value; negative max_iterations.
  std::string text = LoopFile(less, identity);
  std::string bad = text;
  bad.insert(bad.find("attrs { key: \"max"),
             "attrs { key: \"result\" value { i: 1 } } ");
  g = GraphFromText(bad);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("result 1 is not a carried"));
  bad = text;
  bad.replace(bad.find("i: 3"), 4, "i: -1");
  g = GraphFromText(bad);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("max_iterations -1 < 0"));
}

}  // namespace
}  // namespace adc
