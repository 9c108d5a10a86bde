// Random mutations of valid graphs must never crash the loader or the
// verifier: each mutated graph loads or is rejected with a status. Graphs that
// load must also round-trip, verify, run in the reference interpreter and be
// differentiable without crashing (errors are fine, crashes are not).
//
// (a) Proto-level mutations of GraphDefs built from a few real graphs
//     (including differentiated ones): op names, inputs, dims (negative and
//     huge), attributes (wrong kinds, extreme ints, empty lists), dtypes
//     (including invalid enum values), deleted/duplicated/swapped nodes, cut
//     outputs, parameter data.
// (b) Byte-level flips, truncations and insertions of the binary form.
//
// Seeded and deterministic; several thousand iterations in a few seconds.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "graph/builder.h"
#include "graph/graph.pb.h"
#include "graph/interpreter.h"
#include "graph/ops/op_def.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "gtest/gtest.h"
#include "passes/autodiff.h"

namespace adc {
namespace {

using Rng = std::mt19937_64;

// Longer or different campaigns without editing the test:
// ADC_FUZZ_SEED=n shifts every seed, ADC_FUZZ_SCALE=k runs k times as many
// iterations (the defaults, 0 and 1, are what CI runs).
int EnvInt(const char* name, int default_value) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : default_value;
}
int FuzzSeed() { return EnvInt("ADC_FUZZ_SEED", 0); }
int FuzzScale() { return std::max(1, EnvInt("ADC_FUZZ_SCALE", 1)); }

// ---------------------------------------------------------------------------
// Seed graphs.
// ---------------------------------------------------------------------------
Graph MustBuild(GraphBuilder& b) {
  absl::StatusOr<Graph> g = b.Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

void Differentiate(Graph* g, const std::string& of, std::string seed = "") {
  GradOptions options;
  options.of = of;
  options.seed = std::move(seed);
  absl::StatusOr<std::vector<std::string>> names = AddGradients(g, options);
  EXPECT_TRUE(names.ok()) << names.status();
}

// A classifier: linear layers, activations, cross entropy; differentiated.
Graph Mlp() {
  GraphBuilder b("mlp");
  Value x = b.Input("x", DType::kF32, {4, 3});
  Value labels = b.Input("labels", DType::kI32, {4});
  Value w1 =
      b.Parameter("w1", Tensor::Filled(TensorType{DType::kF32, {5, 3}}, 0.1));
  Value b1 = b.Parameter("b1", Tensor::Filled(TensorType{DType::kF32, {5}}, 0));
  Value w2 =
      b.Parameter("w2", Tensor::Filled(TensorType{DType::kF32, {2, 5}}, -0.2));
  Value h = Relu(Linear(x, w1, b1));
  Value logits = Linear(Softplus(h) + Sigmoid(h), w2);
  b.Output("loss", CrossEntropy(logits, labels));
  b.Output("probs", Softmax(logits));
  Graph g = MustBuild(b);
  Differentiate(&g, "loss");
  return g;
}

// Data movement and reductions of every kind.
Graph Shapes() {
  GraphBuilder b("shapes");
  Value x = b.Input("x", DType::kF64, {3, 4});
  Value idx = Constant(
      b, Tensor::FromInts(TensorType{DType::kI64, {2, 2}}, {-1, 0, 7, 2}));
  Value g = Gather(x, idx, 1);
  Value s = ScatterAdd(
      x, Constant(b, Tensor::FromInts(TensorType{DType::kI32, {2}}, {0, 2})),
      Slice(x, {0, 0}, {2, 4}), 0);
  Value p = Pad(x, {1, 0}, {0, 2}, 0.5, {1, 1});
  Value r = Reverse(SliceAxis(p, 1, -1, std::nullopt, -2), {0});
  Value c = Concat({CumSum(x, 1, true, true), Transpose(x, {0, 1}) * 2.0}, 0);
  Value red = Max(c, {0}, true) + Min(c, {0}, true) + Prod(c, {0}, true);
  Value i = Iota(b, DType::kF64, {3, 4}, 1);
  b.Output("a", Sum(g) + Sum(s) + Sum(r) + Sum(red));
  b.Output("b", Select(Gt(x, i), Exp(x), Log1p(Abs(x))));
  b.Output("c", Flatten(ExpandDims(MatMul(x, Transpose(x)), 0), 1));
  b.Output("d", Cast(Ne(Sign(x), Sign(Neg(x))), DType::kI32));
  b.Output("e", Pow(Abs(x) + 1.0, Tan(x * 0.1)) / (Sqrt(Abs(x)) + 1.0) -
                    Erf(x) * Cos(x) + Expm1(Sin(x)) + Tanh(Maximum(x, i)) +
                    MulNoNan(x, Minimum(x, 0.5)) + StopGradient(x));
  Graph graph = MustBuild(b);
  Differentiate(&graph, "a");
  return graph;
}

// A second-order graph (grad of grad) with a parameter.
Graph SecondOrder() {
  GraphBuilder b("second");
  Value x = b.Input("x", DType::kF64, {3});
  Value w = b.Parameter(
      "w", Tensor::FromDoubles(TensorType{DType::kF64, {3}}, {0.5, -1, 2}));
  b.Output("y", Sum(LogSumExp(Reshape(x * w, {3, 1}), {1}) * Sin(x)));
  Graph g = MustBuild(b);
  Differentiate(&g, "y");
  GradOptions options;
  options.of = "x.grad";
  options.wrt = {"x"};
  options.seed = "v";
  EXPECT_TRUE(AddGradients(&g, options).ok());
  return g;
}

// Integer and bool values.
Graph Integers() {
  GraphBuilder b("ints");
  Value i = b.Input("i", DType::kI32, {2, 3});
  Value j = b.Input("j", DType::kI64, {3});
  Value m = b.Parameter(
      "m", Tensor::FromInts(TensorType{DType::kBool, {3}}, {1, 0, 1}));
  Value k = Cast(i, DType::kI64) * j - j / 2 + Arange(b, 0, 3, 1, DType::kI64);
  b.Output("k", Select(m, k, Neg(k)));
  b.Output("s", Sum(CumSum(k, 0), {1}, true));
  b.Output("eq", Eq(i, i));
  return MustBuild(b);
}

std::vector<proto::GraphDef> Seeds() {
  return {GraphToProto(Mlp()), GraphToProto(Shapes()),
          GraphToProto(SecondOrder()), GraphToProto(Integers())};
}

// ---------------------------------------------------------------------------
// Running a (possibly broken) graph through everything.
// ---------------------------------------------------------------------------
struct Stats {
  int loaded = 0;
  int rejected = 0;
  int interpreted = 0;
  int differentiated = 0;
};

constexpr int64_t kMaxRunElements = 4096;

// Zero-filled feeds for every input.
std::map<std::string, Tensor> ZeroFeeds(const Graph& g) {
  std::map<std::string, Tensor> feeds;
  for (ValueId id : g.inputs()) {
    feeds[g.node(id).name] = Tensor(g.type(id));
  }
  return feeds;
}

bool SmallEnoughToRun(const Graph& g) {
  for (const Node& n : g.nodes()) {
    if (n.type.num_elements() > kMaxRunElements) return false;
  }
  return true;
}

void Exercise(const proto::GraphDef& def, Stats* stats) {
  absl::StatusOr<Graph> g = GraphFromProto(def);
  if (!g.ok()) {
    ++stats->rejected;
    EXPECT_FALSE(g.status().message().empty());
    return;
  }
  ++stats->loaded;
  // A loaded graph verifies and round-trips.
  absl::Status verified = Verify(*g);
  ASSERT_TRUE(verified.ok()) << verified;
  const proto::GraphDef canonical = GraphToProto(*g);
  absl::StatusOr<Graph> again = GraphFromProto(canonical);
  ASSERT_TRUE(again.ok()) << again.status() << "\n"
                          << GraphDefToText(canonical);
  ASSERT_EQ(GraphDefToBytes(GraphToProto(*again)), GraphDefToBytes(canonical));
  if (!SmallEnoughToRun(*g)) return;
  // It runs (kernels may report errors, never crash).
  absl::StatusOr<std::map<std::string, Tensor>> out =
      Interpret(*g, ZeroFeeds(*g));
  if (out.ok()) ++stats->interpreted;
  // It can be differentiated with respect to its float inputs.
  for (const GraphOutput& o : g->outputs()) {
    if (!IsFloat(g->type(o.value).dtype)) continue;
    Graph copy = *g;
    GradOptions options;
    options.of = o.name;
    options.seed = "ones";
    absl::StatusOr<std::vector<std::string>> names =
        AddGradients(&copy, options);
    if (!names.ok()) break;
    absl::Status v = Verify(copy);
    ASSERT_TRUE(v.ok()) << v;
    if (SmallEnoughToRun(copy)) {
      absl::StatusOr<std::map<std::string, Tensor>> grads =
          Interpret(copy, ZeroFeeds(copy));
      if (grads.ok()) ++stats->differentiated;
    }
    break;
  }
}

// ---------------------------------------------------------------------------
// Proto-level mutations.
// ---------------------------------------------------------------------------
int64_t Pick(Rng& rng, int64_t n) {
  return std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
}

int64_t InterestingInt(Rng& rng) {
  static const int64_t kValues[] = {
      0,
      1,
      2,
      3,
      -1,
      -2,
      -3,
      5,
      7,
      64,
      int64_t{1} << 31,
      (int64_t{1} << 31) - 1,
      int64_t{1} << 40,
      (int64_t{1} << 40) + 1,
      int64_t{1} << 62,
      -(int64_t{1} << 62),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<int64_t>::max() - 1,
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::min() + 1,
  };
  return kValues[Pick(rng, sizeof(kValues) / sizeof(kValues[0]))];
}

proto::DType RandomDType(Rng& rng) {
  // Valid values 1..5, plus DTYPE_INVALID and out-of-range enum values.
  static const int kValues[] = {0, 1, 2, 3, 4, 5, 6, -1, 100, 1 << 30};
  return static_cast<proto::DType>(kValues[Pick(rng, 10)]);
}

std::string RandomName(Rng& rng, const proto::GraphDef& def) {
  switch (Pick(rng, 6)) {
    case 0:
      return "";
    case 1:
      return "no_such_value";
    default:
      break;
  }
  std::vector<std::string> names;
  for (const auto& in : def.inputs()) names.push_back(in.name());
  for (const auto& p : def.parameters()) names.push_back(p.name());
  for (const auto& n : def.nodes()) names.push_back(n.name());
  if (names.empty()) return "x";
  return names[Pick(rng, names.size())];
}

void MutateShape(Rng& rng, proto::Shape* shape) {
  switch (Pick(rng, 5)) {
    case 0:
      shape->add_dims(InterestingInt(rng));
      return;
    case 1:
      if (shape->dims_size() > 0) shape->mutable_dims()->RemoveLast();
      return;
    case 2:
      shape->add_symbols("batch");
      return;
    default:
      if (shape->dims_size() > 0) {
        shape->set_dims(Pick(rng, shape->dims_size()), InterestingInt(rng));
      } else {
        shape->add_dims(InterestingInt(rng));
      }
  }
}

void MutateType(Rng& rng, proto::TensorType* type) {
  if (Pick(rng, 3) == 0) {
    type->set_dtype(RandomDType(rng));
  } else {
    MutateShape(rng, type->mutable_shape());
  }
}

void MutateTensor(Rng& rng, proto::TensorProto* t) {
  switch (Pick(rng, 6)) {
    case 0:
      MutateType(rng, t->mutable_type());
      return;
    case 1:
      t->add_float_data(1.5f);
      return;
    case 2:
      t->add_int64_data(InterestingInt(rng));
      return;
    case 3:
      t->add_double_data(-0.0);
      return;
    case 4:
      t->clear_float_data();
      t->clear_double_data();
      return;
    default:
      if (t->int64_data_size() > 0) {
        t->set_int64_data(Pick(rng, t->int64_data_size()), InterestingInt(rng));
      }
  }
}

void MutateAttr(Rng& rng, proto::AttrValue* a) {
  switch (Pick(rng, 12)) {
    case 0:
      a->set_i(InterestingInt(rng));
      return;
    case 1:
      a->set_f(std::numeric_limits<double>::quiet_NaN());
      return;
    case 2:
      a->set_s("zzz");
      return;
    case 3:
      a->mutable_ints()->clear_values();  // An empty list.
      return;
    case 4:
      a->set_dtype(RandomDType(rng));
      return;
    case 5:
      MutateTensor(rng, a->mutable_tensor());
      return;
    case 6:
      a->set_b(Pick(rng, 2) == 1);
      return;
    case 7:
      a->Clear();  // No value at all.
      return;
    default: {
      // Change, add or drop one entry of an int list (attrs such as perm,
      // axes, shape, start, low, ...).
      proto::IntList* ints = a->mutable_ints();
      const int k = Pick(rng, 3);
      if (k == 0 || ints->values_size() == 0) {
        ints->add_values(InterestingInt(rng));
      } else if (k == 1) {
        ints->set_values(Pick(rng, ints->values_size()), InterestingInt(rng));
      } else {
        ints->mutable_values()->RemoveLast();
      }
    }
  }
}

void MutateNode(Rng& rng, proto::GraphDef* def, proto::Node* n) {
  switch (Pick(rng, 10)) {
    case 0: {
      std::vector<std::string> ops = NodeOpNames();
      ops.push_back("input");
      ops.push_back("parameter");
      ops.push_back("Add");
      ops.push_back("");
      n->set_op(ops[Pick(rng, ops.size())]);
      return;
    }
    case 1:
      if (n->inputs_size() > 0) {
        n->set_inputs(Pick(rng, n->inputs_size()), RandomName(rng, *def));
      }
      return;
    case 2:
      n->add_inputs(RandomName(rng, *def));
      return;
    case 3:
      if (n->inputs_size() > 0) n->mutable_inputs()->RemoveLast();
      return;
    case 4:
      MutateType(rng, n->mutable_type());
      return;
    case 5:
      n->set_grad_level(static_cast<int32_t>(InterestingInt(rng)));
      return;
    case 6:
      (*n->mutable_attrs())["bogus"].set_i(1);
      return;
    case 7:
      if (!n->attrs().empty()) {
        n->mutable_attrs()->erase(n->mutable_attrs()->begin());
      }
      return;
    default: {
      if (n->attrs().empty()) return;
      auto it = n->mutable_attrs()->begin();
      std::advance(it, Pick(rng, n->attrs_size()));
      MutateAttr(rng, &it->second);
    }
  }
}

void Mutate(Rng& rng, proto::GraphDef* def) {
  auto* nodes = def->mutable_nodes();
  switch (Pick(rng, 16)) {
    case 0:
      def->set_version(static_cast<int32_t>(InterestingInt(rng)));
      return;
    case 1:
      if (def->inputs_size() > 0) {
        MutateType(
            rng,
            def->mutable_inputs(Pick(rng, def->inputs_size()))->mutable_type());
      }
      return;
    case 2:
      if (def->parameters_size() > 0) {
        MutateTensor(rng,
                     def->mutable_parameters(Pick(rng, def->parameters_size()))
                         ->mutable_value());
      }
      return;
    case 3:  // Delete a node.
      if (!nodes->empty()) {
        nodes->DeleteSubrange(Pick(rng, nodes->size()), 1);
      }
      return;
    case 4:  // Duplicate a node.
      if (!nodes->empty())
        *def->add_nodes() = nodes->Get(Pick(rng, nodes->size()));
      return;
    case 5:  // Swap two nodes.
      if (nodes->size() > 1) {
        nodes->SwapElements(Pick(rng, nodes->size()), Pick(rng, nodes->size()));
      }
      return;
    case 6:  // Rename a node (its users now dangle, or it collides).
      if (!nodes->empty()) {
        nodes->Mutable(Pick(rng, nodes->size()))
            ->set_name(RandomName(rng, *def));
      }
      return;
    case 7:  // Cut one output, or all of them.
      if (def->outputs_size() > 0) {
        if (Pick(rng, 4) == 0) {
          def->clear_outputs();
        } else {
          def->mutable_outputs()->DeleteSubrange(Pick(rng, def->outputs_size()),
                                                 1);
        }
      }
      return;
    case 8:
      if (def->outputs_size() > 0) {
        proto::Output* o = def->mutable_outputs(Pick(rng, def->outputs_size()));
        if (Pick(rng, 2) == 0) {
          o->set_value(RandomName(rng, *def));
        } else {
          o->set_name(RandomName(rng, *def));
        }
      }
      return;
    case 9:  // Delete an input or parameter.
      if (def->inputs_size() > 0 && Pick(rng, 2) == 0) {
        def->mutable_inputs()->DeleteSubrange(Pick(rng, def->inputs_size()), 1);
      } else if (def->parameters_size() > 0) {
        def->mutable_parameters()->DeleteSubrange(
            Pick(rng, def->parameters_size()), 1);
      }
      return;
    default:
      if (!nodes->empty()) {
        MutateNode(rng, def, nodes->Mutable(Pick(rng, nodes->size())));
      }
  }
}

TEST(FuzzTest, ProtoMutationsNeverCrash) {
  const std::vector<proto::GraphDef> seeds = Seeds();
  Rng rng(20240601 + FuzzSeed());
  Stats stats;
  const int kIterations = 4000 * FuzzScale();
  for (int it = 0; it < kIterations; ++it) {
    proto::GraphDef def = seeds[it % seeds.size()];
    const int mutations = 1 + Pick(rng, 3);
    for (int m = 0; m < mutations; ++m) Mutate(rng, &def);
    // Declared node types are optional; without them the shape rules alone
    // must catch what is wrong.
    if (Pick(rng, 3) == 0) {
      for (proto::Node& n : *def.mutable_nodes()) n.clear_type();
    }
    // Through the binary form, as ReadGraphDef would see it.
    proto::GraphDef parsed;
    ASSERT_TRUE(parsed.ParseFromString(GraphDefToBytes(def)));
    SCOPED_TRACE(absl::StrCat("iteration ", it));
    Exercise(parsed, &stats);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "graph:\n" << GraphDefToText(parsed);
      return;
    }
  }
  // Both outcomes happen often: the mutations are neither all fatal nor all
  // harmless.
  EXPECT_GT(stats.loaded, kIterations / 10);
  EXPECT_GT(stats.rejected, kIterations / 3);
  EXPECT_GT(stats.interpreted, 0);
  EXPECT_GT(stats.differentiated, 0);
  std::cout << "loaded " << stats.loaded << ", rejected " << stats.rejected
            << ", interpreted " << stats.interpreted << ", differentiated "
            << stats.differentiated << "\n";
}

// ---------------------------------------------------------------------------
// Byte-level mutations.
// ---------------------------------------------------------------------------
void MutateBytes(Rng& rng, std::string* bytes) {
  if (bytes->empty()) {
    bytes->push_back(static_cast<char>(Pick(rng, 256)));
    return;
  }
  switch (Pick(rng, 6)) {
    case 0:  // Flip a bit.
      (*bytes)[Pick(rng, bytes->size())] ^=
          static_cast<char>(1 << Pick(rng, 8));
      return;
    case 1:  // Truncate.
      bytes->resize(Pick(rng, bytes->size()));
      return;
    case 2:  // Insert random bytes.
      bytes->insert(
          Pick(rng, bytes->size() + 1),
          std::string(1 + Pick(rng, 4), static_cast<char>(Pick(rng, 256))));
      return;
    case 3:  // Overwrite a byte with an interesting value.
    {
      static const char kBytes[] = {0, 1, 0x7f, static_cast<char>(0x80),
                                    static_cast<char>(0xff)};
      (*bytes)[Pick(rng, bytes->size())] = kBytes[Pick(rng, 5)];
      return;
    }
    case 4: {  // Duplicate a chunk.
      const size_t from = Pick(rng, bytes->size());
      const size_t len =
          1 + Pick(rng, std::min<size_t>(16, bytes->size() - from));
      bytes->insert(Pick(rng, bytes->size() + 1), bytes->substr(from, len));
      return;
    }
    default:  // Delete a chunk.
    {
      const size_t from = Pick(rng, bytes->size());
      bytes->erase(from,
                   1 + Pick(rng, std::min<size_t>(8, bytes->size() - from)));
    }
  }
}

TEST(FuzzTest, ByteMutationsNeverCrash) {
  // Invalid UTF-8 in string fields is a parse error that protobuf also logs;
  // keep the log quiet.
  google::protobuf::LogSilencer quiet;
  std::vector<std::string> seeds;
  for (const proto::GraphDef& def : Seeds())
    seeds.push_back(GraphDefToBytes(def));
  Rng rng(77 + FuzzSeed());
  Stats stats;
  int unparsable = 0;
  const int kIterations = 4000 * FuzzScale();
  for (int it = 0; it < kIterations; ++it) {
    std::string bytes = seeds[it % seeds.size()];
    const int mutations = Pick(rng, 4) == 0 ? 2 : 1;
    for (int m = 0; m < mutations; ++m) MutateBytes(rng, &bytes);
    proto::GraphDef def;
    if (!def.ParseFromString(bytes)) {
      ++unparsable;
      continue;
    }
    SCOPED_TRACE(absl::StrCat("iteration ", it));
    Exercise(def, &stats);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "graph:\n" << GraphDefToText(def);
      return;
    }
  }
  EXPECT_GT(unparsable, 0);
  EXPECT_GT(stats.loaded, 0);
  EXPECT_GT(stats.loaded + stats.rejected, kIterations / 10);
  std::cout << "unparsable " << unparsable << ", loaded " << stats.loaded
            << ", rejected " << stats.rejected << "\n";
}

// ---------------------------------------------------------------------------
// Single ops with random operands and attributes.
// ---------------------------------------------------------------------------
int64_t SmallOrInterestingInt(Rng& rng) {
  return Pick(rng, 4) == 0 ? InterestingInt(rng) : Pick(rng, 11) - 4;
}

void RandomAttr(Rng& rng, AttrKind kind, int rank, proto::AttrValue* a) {
  if (Pick(rng, 12) == 0) {  // Sometimes of the wrong kind.
    kind = static_cast<AttrKind>(Pick(rng, 7));
  }
  switch (kind) {
    case AttrKind::kInt:
      a->set_i(SmallOrInterestingInt(rng));
      return;
    case AttrKind::kFloat:
      a->set_f(Pick(rng, 2) ? 0.5 : -1e300);
      return;
    case AttrKind::kString:
      a->set_s("s");
      return;
    case AttrKind::kInts: {
      // Usually one entry per axis of the operand.
      const int n = Pick(rng, 4) == 0 ? Pick(rng, 5) : rank;
      proto::IntList* ints = a->mutable_ints();
      for (int i = 0; i < n; ++i) ints->add_values(SmallOrInterestingInt(rng));
      return;
    }
    case AttrKind::kDType:
      a->set_dtype(RandomDType(rng));
      return;
    case AttrKind::kTensor: {
      proto::TensorProto* t = a->mutable_tensor();
      t->mutable_type()->set_dtype(proto::F64);
      const int64_t n = Pick(rng, 3);
      t->mutable_type()->mutable_shape()->add_dims(n);
      for (int64_t i = 0; i < n; ++i) t->add_double_data(i);
      return;
    }
    case AttrKind::kBool:
      a->set_b(Pick(rng, 2) == 1);
      return;
  }
}

TEST(FuzzTest, RandomSingleOpsNeverCrash) {
  Rng rng(4242 + FuzzSeed());
  Stats stats;
  const int kIterations = 60000 * FuzzScale();
  for (int it = 0; it < kIterations; ++it) {
    const OpKind kind =
        static_cast<OpKind>(2 + Pick(rng, kNumOpKinds - 2));  // No leaves.
    const OpDef& op = GetOpDef(kind);
    proto::GraphDef def;
    def.set_version(1);
    // Operands: mostly f64, small shapes (often equal, as element-wise ops
    // need), sometimes empty.
    const int max_inputs =
        op.max_inputs < 0 ? op.min_inputs + 2 : op.max_inputs;
    const int num_inputs =
        op.min_inputs + Pick(rng, max_inputs - op.min_inputs + 1);
    std::vector<int64_t> dims;
    const int rank = Pick(rng, 4);
    for (int d = 0; d < rank; ++d)
      dims.push_back(Pick(rng, 5) == 0 ? 0 : 1 + Pick(rng, 3));
    proto::Node* node = def.add_nodes();
    node->set_name("n");
    node->set_op(op.name);
    for (int i = 0; i < num_inputs; ++i) {
      proto::ValueInfo* in = def.add_inputs();
      in->set_name(absl::StrCat("x", i));
      static const proto::DType kDTypes[] = {proto::F64, proto::F64, proto::F64,
                                             proto::F32, proto::I32, proto::I64,
                                             proto::BOOL};
      // Index-like operands (the second of gather/scatter_add) are integers.
      proto::DType dtype = kDTypes[Pick(rng, 7)];
      if ((kind == OpKind::kGather || kind == OpKind::kScatterAdd) && i == 1 &&
          Pick(rng, 4) != 0) {
        dtype = Pick(rng, 2) ? proto::I32 : proto::I64;
      }
      if (kind == OpKind::kSelect && i == 0 && Pick(rng, 4) != 0) {
        dtype = proto::BOOL;
      }
      in->mutable_type()->set_dtype(dtype);
      std::vector<int64_t> in_dims = dims;
      if (Pick(rng, 3) == 0) {  // A different shape.
        in_dims.clear();
        const int r = Pick(rng, 4);
        for (int d = 0; d < r; ++d) in_dims.push_back(Pick(rng, 4));
      }
      for (int64_t d : in_dims)
        in->mutable_type()->mutable_shape()->add_dims(d);
      node->add_inputs(in->name());
    }
    for (const AttrSpec& spec : op.attrs) {
      if (spec.default_value && Pick(rng, 3) == 0) continue;
      if (Pick(rng, 20) == 0) continue;  // A missing required attribute.
      RandomAttr(rng, spec.kind, rank, &(*node->mutable_attrs())[spec.name]);
    }
    proto::Output* out = def.add_outputs();
    out->set_name("y");
    out->set_value("n");
    SCOPED_TRACE(absl::StrCat("iteration ", it));
    Exercise(def, &stats);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "graph:\n" << GraphDefToText(def);
      return;
    }
  }
  EXPECT_GT(stats.loaded, kIterations / 20);
  EXPECT_GT(stats.differentiated, 0);
  std::cout << "loaded " << stats.loaded << ", rejected " << stats.rejected
            << ", interpreted " << stats.interpreted << ", differentiated "
            << stats.differentiated << "\n";
}

// The seeds themselves load, run and differentiate.
TEST(FuzzTest, SeedsAreValid) {
  for (const proto::GraphDef& def : Seeds()) {
    SCOPED_TRACE(def.name());
    Stats stats;
    Exercise(def, &stats);
    EXPECT_EQ(stats.loaded, 1);
  }
}

}  // namespace
}  // namespace adc
