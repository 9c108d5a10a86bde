// Test helpers for the optimization passes: small graphs written as GraphDef
// text (serialize.h), structure queries, and bit-exact output comparison.
#ifndef ADC_PASSES_PASS_TEST_UTIL_H_
#define ADC_PASSES_PASS_TEST_UTIL_H_

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "graph/builder.h"
#include "graph/graph.h"
#include "passes/pass.h"

namespace adc::pass_test {

// GraphDef text snippets. `dtype` is the proto enum name ("F32", "F64",
// "I32", "I64", "BOOL").
std::string Input(absl::string_view name, absl::string_view dtype,
                  const Dims& dims = {});
std::string Parameter(absl::string_view name, absl::string_view dtype,
                      const Dims& dims, const std::vector<double>& values);
// A constant node holding `values` (one per element of dims).
std::string Constant(absl::string_view name, absl::string_view dtype,
                     const Dims& dims, const std::vector<double>& values);
std::string Scalar(absl::string_view name, absl::string_view dtype,
                   double value);
// Two nodes: "<name>_value", a rank-0 constant, and `name`, its broadcast.
std::string Splat(absl::string_view name, absl::string_view dtype, double value,
                  const Dims& dims);
// A node; `attrs` are attrs { ... } entries (see the Attr helpers).
std::string Node(absl::string_view name, absl::string_view op,
                 const std::vector<std::string>& inputs,
                 const std::string& attrs = "");
std::string IntsAttr(absl::string_view key, const std::vector<int64_t>& v);
std::string IntAttr(absl::string_view key, int64_t v);
std::string BoolAttr(absl::string_view key, bool v);
std::string FloatAttr(absl::string_view key, double v);
std::string DTypeAttr(absl::string_view key, absl::string_view dtype);
std::string Output(absl::string_view name, absl::string_view value);

// Parses a graph from the snippets (a test failure and an empty graph on
// error).
Graph Parse(const std::string& body);

// b.Build(), failing the test (and giving an empty graph) on error.
Graph BuildOrFail(GraphBuilder& b);
// Interpret(g, feeds), failing the test (and giving no outputs) on error.
std::map<std::string, Tensor> EvalOrFail(
    const Graph& g, const std::map<std::string, Tensor>& feeds);

// Instance i of a batched tensor (vmap): slice i of its leading dimension.
Tensor InstanceOf(const Tensor& batched, int64_t i);

// Number of nodes with op `op`.
int CountOp(const Graph& graph, OpKind op);
// The node behind output `name` (fails the test if there is none).
const adc::Node& OutputNode(const Graph& graph, absl::string_view name);
// "op(input names)" of the node behind output `name`, e.g. "mul(x,y)".
std::string Describe(const Graph& graph, absl::string_view output);

// Runs `pass` once, expects success and a graph that passes the verifier;
// returns whether it changed the graph.
bool RunOnce(Pass& pass, Graph* graph);

// Feeds for every graph input: normal random values, with a fraction
// `special_fraction` of the elements drawn from -0, +0, +-inf, NaN, +-1 and
// tiny and huge values (integers: small values, bool: random).
std::map<std::string, Tensor> RandomFeeds(const Graph& graph, unsigned seed,
                                          double special_fraction = 0);
// Same type and the same bits, except that any NaN equals any NaN.
bool BitIdentical(const Tensor& a, const Tensor& b);
// Interprets both graphs on `feeds` and expects every output of `expected`
// to be bit-identical in `actual`.
void ExpectSameOutputsOn(const Graph& expected, const Graph& actual,
                         const std::map<std::string, Tensor>& feeds);
// ExpectSameOutputsOn for `rounds` random feeds, with special values on odd
// rounds (a third of the elements, or `special_fraction`).
void ExpectSameOutputs(const Graph& expected, const Graph& actual,
                       int rounds = 6, double special_fraction = 1.0 / 3);

// A random rank-2 graph of shape `dims` (rows, columns): inputs, splats of
// special values (0, -0, 1, -1, inf, NaN, ...) and the patterns the
// simplifier rewrites, half of them with their gradients. Optimized graphs
// must give the same bits on it; compiled code the interpreter's values.
Graph RandomGraph(std::mt19937& rng, const Dims& dims = {2, 3});

}  // namespace adc::pass_test

#endif  // ADC_PASSES_PASS_TEST_UTIL_H_
