#include "passes/pass_test_util.h"

#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/builder.h"
#include "graph/interpreter.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc::pass_test {
namespace {

std::string TypeText(absl::string_view dtype, const Dims& dims) {
  std::string s = absl::StrCat("type { dtype: ", dtype, " shape {");
  for (int64_t d : dims) absl::StrAppend(&s, " dims: ", d);
  return absl::StrCat(s, " } }");
}

std::string Number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string TensorText(absl::string_view dtype, const Dims& dims,
                       const std::vector<double>& values) {
  std::string field = dtype == "F32"   ? "float_data"
                      : dtype == "F64" ? "double_data"
                                       : "int64_data";
  std::string s = absl::StrCat("tensor { ", TypeText(dtype, dims));
  for (double v : values) {
    absl::StrAppend(&s, " ", field, ": ",
                    field == "int64_data"
                        ? absl::StrCat(static_cast<int64_t>(v))
                        : Number(v));
  }
  return absl::StrCat(s, " }");
}

}  // namespace

std::string Input(absl::string_view name, absl::string_view dtype,
                  const Dims& dims) {
  return absl::StrCat("inputs { name: \"", name, "\" ", TypeText(dtype, dims),
                      " }\n");
}

std::string Parameter(absl::string_view name, absl::string_view dtype,
                      const Dims& dims, const std::vector<double>& values) {
  std::string t = TensorText(dtype, dims, values);
  // TensorText writes "tensor { ... }"; a parameter's value is the message.
  t = absl::StrCat("value {", t.substr(std::string("tensor {").size()));
  return absl::StrCat("parameters { name: \"", name, "\" ", t, " }\n");
}

std::string Constant(absl::string_view name, absl::string_view dtype,
                     const Dims& dims, const std::vector<double>& values) {
  return absl::StrCat("nodes { name: \"", name,
                      "\" op: \"constant\" attrs { key: \"value\" value { ",
                      TensorText(dtype, dims, values), " } } }\n");
}

std::string Scalar(absl::string_view name, absl::string_view dtype,
                   double value) {
  return Constant(name, dtype, {}, {value});
}

std::string Splat(absl::string_view name, absl::string_view dtype, double value,
                  const Dims& dims) {
  const std::string c = absl::StrCat(name, "_value");
  return absl::StrCat(Scalar(c, dtype, value),
                      Node(name, "broadcast_to", {c}, IntsAttr("shape", dims)));
}

std::string Node(absl::string_view name, absl::string_view op,
                 const std::vector<std::string>& inputs,
                 const std::string& attrs) {
  std::string s = absl::StrCat("nodes { name: \"", name, "\" op: \"", op, "\"");
  for (const std::string& in : inputs)
    absl::StrAppend(&s, " inputs: \"", in, "\"");
  return absl::StrCat(s, " ", attrs, " }\n");
}

std::string IntsAttr(absl::string_view key, const std::vector<int64_t>& v) {
  std::string s = absl::StrCat("attrs { key: \"", key, "\" value { ints {");
  for (int64_t x : v) absl::StrAppend(&s, " values: ", x);
  return absl::StrCat(s, " } } } ");
}

std::string IntAttr(absl::string_view key, int64_t v) {
  return absl::StrCat("attrs { key: \"", key, "\" value { i: ", v, " } } ");
}

std::string BoolAttr(absl::string_view key, bool v) {
  return absl::StrCat("attrs { key: \"", key,
                      "\" value { b: ", v ? "true" : "false", " } } ");
}

std::string FloatAttr(absl::string_view key, double v) {
  return absl::StrCat("attrs { key: \"", key, "\" value { f: ", Number(v),
                      " } } ");
}

std::string DTypeAttr(absl::string_view key, absl::string_view dtype) {
  return absl::StrCat("attrs { key: \"", key, "\" value { dtype: ", dtype,
                      " } } ");
}

std::string Output(absl::string_view name, absl::string_view value) {
  return absl::StrCat("outputs { name: \"", name, "\" value: \"", value,
                      "\" }\n");
}

Graph Parse(const std::string& body) {
  absl::StatusOr<Graph> g =
      GraphFromText(absl::StrCat("version: 1 name: \"test\"\n", body));
  EXPECT_TRUE(g.ok()) << g.status() << "\n" << body;
  return g.ok() ? *std::move(g) : Graph();
}

Graph BuildOrFail(GraphBuilder& b) {
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

std::map<std::string, Tensor> EvalOrFail(
    const Graph& g, const std::map<std::string, Tensor>& feeds) {
  auto out = Interpret(g, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::map<std::string, Tensor>{};
}

Tensor InstanceOf(const Tensor& batched, int64_t i) {
  TensorType type{batched.dtype(),
                  Dims(batched.dims().begin() + 1, batched.dims().end())};
  Tensor r(type);
  const int64_t n = type.num_elements();
  for (int64_t j = 0; j < n; ++j) ops::CopyElement(batched, i * n + j, &r, j);
  return r;
}

int CountOp(const Graph& graph, OpKind op) {
  int n = 0;
  for (const adc::Node& node : graph.nodes()) n += node.op == op;
  return n;
}

const adc::Node& OutputNode(const Graph& graph, absl::string_view name) {
  std::optional<ValueId> id = graph.FindOutput(name);
  EXPECT_TRUE(id.has_value()) << "no output " << name;
  static const adc::Node* const kMissing = new adc::Node();
  return id ? graph.node(*id) : *kMissing;
}

std::string Describe(const Graph& graph, absl::string_view output) {
  std::optional<ValueId> id = graph.FindOutput(output);
  if (!id) return "<no such output>";
  const adc::Node& n = graph.node(*id);
  if (n.inputs.empty()) return n.name;
  std::vector<std::string> names;
  for (ValueId in : n.inputs) names.push_back(graph.node(in).name);
  return absl::StrCat(GetOpDef(n.op).name, "(", absl::StrJoin(names, ","), ")");
}

bool RunOnce(Pass& pass, Graph* graph) {
  absl::StatusOr<bool> changed = pass.Run(graph);
  EXPECT_TRUE(changed.ok()) << changed.status();
  absl::Status verified = Verify(*graph);
  EXPECT_TRUE(verified.ok())
      << "after " << pass.name() << ": " << verified << "\n"
      << GraphToText(*graph);
  return changed.ok() && *changed;
}

std::map<std::string, Tensor> RandomFeeds(const Graph& graph, unsigned seed,
                                          double special_fraction) {
  static const double kSpecials[] = {-0.0, 0.0,  INFINITY,  -INFINITY, NAN,
                                     1.0,  -1.0, 0x1p-1060, 1e-40,     1e300};
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> pick(0, std::size(kSpecials) - 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::map<std::string, Tensor> feeds;
  for (ValueId id : graph.inputs()) {
    const adc::Node& n = graph.node(id);
    Tensor t(n.type);
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if (IsFloat(n.type.dtype)) {
        t.SetDouble(i, uniform(rng) < special_fraction ? kSpecials[pick(rng)]
                                                       : normal(rng));
      } else if (n.type.dtype == DType::kBool) {
        t.SetInt(i, rng() % 2);
      } else {
        t.SetInt(i, static_cast<int64_t>(rng() % 5) - 1);
      }
    }
    feeds[n.name] = std::move(t);
  }
  return feeds;
}

bool BitIdentical(const Tensor& a, const Tensor& b) {
  if (a.type() != b.type() || a.ints() != b.ints()) return false;
  for (size_t i = 0; i < a.doubles().size(); ++i) {
    const double x = a.doubles()[i], y = b.doubles()[i];
    if (std::isnan(x) && std::isnan(y)) continue;
    if (std::memcmp(&x, &y, sizeof x) != 0) return false;
  }
  return true;
}

void ExpectSameOutputsOn(const Graph& expected, const Graph& actual,
                         const std::map<std::string, Tensor>& feeds) {
  auto want = Interpret(expected, feeds);
  auto got = Interpret(actual, feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(want->size(), got->size());
  for (const auto& [name, value] : *want) {
    auto it = got->find(name);
    ASSERT_NE(it, got->end()) << "missing output " << name;
    EXPECT_TRUE(BitIdentical(value, it->second))
        << "output " << name << ": expected " << value.ToString() << ", got "
        << it->second.ToString();
  }
}

void ExpectSameOutputs(const Graph& expected, const Graph& actual, int rounds,
                       double special_fraction) {
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "feeds of round " << round);
    ExpectSameOutputsOn(
        expected, actual,
        RandomFeeds(expected, round, round % 2 == 1 ? special_fraction : 0));
  }
}

Graph RandomGraph(std::mt19937& rng, const Dims& dims) {
  static const double kConstants[] = {0.0, -0.0, 1.0,      -1.0, 2.0,
                                      0.5, -3.0, INFINITY, NAN};
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const DType dt = pick(2) ? DType::kF32 : DType::kF64;
  const DType other = dt == DType::kF32 ? DType::kF64 : DType::kF32;
  GraphBuilder b("fuzz");
  Value s = b.Input("s", dt, {});
  std::vector<Value> pool = {b.Input("x", dt, dims), b.Input("y", dt, dims),
                             BroadcastTo(s, dims), BroadcastTo(Exp(s), dims)};
  auto constant = [&]() { return std::size(kConstants); };
  for (int k = 0; k < 3; ++k) {
    pool.push_back(Full(b, TensorType{dt, dims}, kConstants[pick(constant())]));
  }
  auto any = [&]() { return pool[pick(pool.size())]; };
  auto splat = [&]() {
    return Full(b, TensorType{dt, dims}, kConstants[pick(constant())]);
  };
  // Indices for gather and scatter_add along axis 0: negative ones count
  // from the end, out-of-range ones clamp (i64, beyond 2^32 too).
  auto indices = [&]() {
    std::vector<int64_t> idx(dims[0]);
    for (int64_t& i : idx) {
      const int64_t choices[] = {0,
                                 1,
                                 dims[0] - 1,
                                 -1,
                                 -dims[0],
                                 dims[0] + 3,
                                 (int64_t{1} << 32) + 1,
                                 -(int64_t{1} << 40)};
      i = choices[pick(std::size(choices))];
    }
    return Constant(b, Tensor::FromInts({DType::kI64, {dims[0]}}, idx));
  };
  const int64_t d0 = dims[0], d1 = dims[1];
  for (int step = 0; step < 14; ++step) {
    Value a = any(), c = any();
    Value r;
    switch (pick(36)) {
      case 0:
        r = Neg(a);
        break;
      case 1:
        r = Abs(a);
        break;
      case 2:
        r = Exp(a);
        break;
      case 3:
        r = Log(a);
        break;
      case 4:
        r = Sin(a);
        break;
      case 5:
        r = Tanh(a);
        break;
      case 6:
        r = Sqrt(a);
        break;
      case 7:
        r = Sign(a);
        break;
      case 8:
        r = StopGradient(a);
        break;
      case 9:
        r = Cast(Cast(a, other), dt);
        break;
      case 10:
        r = a + c;
        break;
      case 11:
        r = a - c;
        break;
      case 12:
        r = a * c;
        break;
      case 13:
        r = a / c;
        break;
      case 14:
        r = Pow(a, c);
        break;
      case 15:
        r = Maximum(a, c);
        break;
      case 16:
        r = Minimum(a, c);
        break;
      case 17:
        r = MulNoNan(a, c);
        break;
      case 18:
        r = Select(Lt(a, c), a, c);
        break;
      case 19:
        r = BroadcastTo(Sum(a, {0}, true), dims);
        break;
      case 20:
        r = BroadcastTo(Max(a, {1}, true), dims);
        break;
      case 21:
        r = Transpose(Transpose(a));
        break;
      case 22:
        r = Reshape(Reshape(a, {dims[1], dims[0]}), dims);
        break;
      case 23:
        r = a + splat();
        break;
      case 24:
        r = splat() - a;
        break;
      case 25:
        r = a * splat();
        break;
      case 26:
        r = MulNoNan(a, splat());
        break;
      case 27:
        r = MulNoNan(splat(), a);
        break;
      case 28:
        r = BroadcastTo(Sum(BroadcastTo(Sum(a), dims), {0, 1}), dims);
        break;
      case 29:
        r = Pow(a, splat());
        break;
      case 30:
        // [d0, d1] @ [d1, d0] @ [d0, d1].
        r = MatMul(MatMul(a, Transpose(c)), a);
        break;
      case 31:
        r = Gather(a, indices(), 0);
        break;
      case 32:
        r = ScatterAdd(a, indices(), c, 0);
        break;
      case 33:
        r = CumSum(a, pick(2), /*exclusive=*/pick(2), /*reverse=*/pick(2));
        break;
      case 34: {
        const int64_t k = pick(static_cast<int>(d1) + 1);
        r = Slice(Concat({a, c}, 1), {0, k}, {d0, k + d1});
        break;
      }
      case 35: {
        const int64_t k = pick(3);
        r = Slice(Pad(a, {1, 0}, {0, 2}, kConstants[pick(constant())]), {1, k},
                  {d0 + 1, k + d1});
        break;
      }
    }
    pool.push_back(r);
  }
  // Many outputs, so that a wrong intermediate value is seen.
  for (size_t k = 4; k < pool.size(); k += 2) {
    b.Output(absl::StrCat("out", k), pool[k]);
  }
  b.Output("loss", Sum(pool.back() * pool[pool.size() - 2]));
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Graph();
  if (pick(2)) {
    auto names = AddGradients(&*g, {.of = "loss"});
    EXPECT_TRUE(names.ok()) << names.status();
  }
  return *std::move(g);
}

}  // namespace adc::pass_test
