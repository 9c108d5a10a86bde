#include "passes/forward_mode.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"
#include "passes/derivative_util.h"
#include "passes/pass_util.h"

namespace adc {
namespace {

// The tangent input of `wrt`: named `name`, or a fresh "<wrt>.tangent".
absl::StatusOr<Value> TangentInput(GraphBuilder& b, const std::string& wrt,
                                   std::string name, const TensorType& type) {
  if (name.empty()) {
    name = passes::FreshName(*b.graph(), wrt + ".tangent", /*values_too=*/true);
  }
  return passes::NamedInput(b, name, type, "tangent", wrt);
}

// A call's JVP: the JVP of its forward function (AddJvp on a copy of the
// body, with every float argument perturbed), inlined with the tangents
// (zeros where missing).
Value CallJvp(GraphBuilder& b, const Node& node, const std::vector<Value>& x,
              const std::vector<Value>& dx) {
  const Graph& root = *b.graph();
  Graph body = *root.function(node.attrs.GetString("forward"));
  body.ShareFunctions(root);
  JvpOptions options;
  options.of = {body.outputs()[0].name};
  absl::StatusOr<JvpResult> r = AddJvp(&body, options);
  if (!r.ok()) return b.Fail(r.status());
  std::vector<Value> args = x;
  for (size_t k = 0; k < x.size(); ++k) {
    if (IsFloat(x[k].dtype())) {
      args.push_back(dx[k].valid() ? dx[k] : ZerosLike(x[k]));
    }
  }
  const std::vector<Value> outs = Inline(b, body, args);
  for (size_t k = 0; k < outs.size(); ++k) {
    if (body.outputs()[k].name == r->outputs[0]) return outs[k];
  }
  return b.Fail(absl::InternalError("call JVP: no tangent output"));
}

// The JVP of function `f` (with `root`'s library): a function of f's inputs
// followed by one tangent per floating-point input, returning f's outputs
// followed by one tangent per floating-point output.
absl::StatusOr<Graph> FunctionJvp(const Graph& f, const Graph& root) {
  Graph g = f;
  g.ShareFunctions(root);
  JvpOptions options;
  for (const GraphOutput& out : f.outputs()) {
    if (IsFloat(f.type(out.value).dtype)) options.of.push_back(out.name);
  }
  for (ValueId id : f.inputs()) {
    if (IsFloat(f.type(id).dtype)) options.wrt.push_back(f.node(id).name);
  }
  if (options.wrt.empty()) return g;  // No tangents in, none out.
  if (!options.of.empty()) {
    ADC_RETURN_IF_ERROR(AddJvp(&g, options).status());
    return g;
  }
  GraphBuilder b(&g);  // Tangent inputs that nothing reads.
  for (const std::string& name : options.wrt) {
    const TensorType& t = g.type(*g.Find(name));
    b.Input(passes::FreshName(g, name + ".tangent", true), t.dtype, t.dims);
  }
  if (!b.ok()) return b.status();
  return g;
}

// The tangents of every result of `node`'s construct (invalid: zero), from
// the operands `x` and their tangents `dx`. cond: a cond over the branches'
// JVPs; while_loop: a loop carrying the tangents of the carried values
// along, its body the body's JVP.
std::vector<Value> ConstructJvp(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& x,
                                const std::vector<Value>& dx) {
  const Graph& root = *b.graph();
  const Graph& first = FirstFunction(node, root);
  const Graph& second = SecondFunction(node, root);
  auto tangent_or_zeros = [&](size_t k) {
    return dx[k].valid() ? dx[k] : ZerosLike(x[k]);
  };
  std::vector<Value> results;
  std::vector<TensorType> types;
  if (node.op == OpKind::kCond) {
    types = first.OutputTypes();
    const std::optional<std::array<std::string, 2>> jvps =
        passes::TransformFunctions(b, node, FunctionJvp, ".jvp");
    if (!jvps) return {};
    std::vector<Value> operands(x.begin() + 1, x.end());
    for (size_t k = 1; k < x.size(); ++k) {
      if (IsFloat(x[k].dtype())) operands.push_back(tangent_or_zeros(k));
    }
    results =
        CondCall(x[0], (*jvps)[0], (*jvps)[1], operands, node.name + ".jvp");
  } else {
    absl::StatusOr<Graph> body_jvp = FunctionJvp(second, root);
    if (!body_jvp.ok()) return {b.Fail(body_jvp.status())};
    const std::string body_jvp_name = b.graph()->AddDerivedFunction(
        node.attrs.GetString("body") + ".jvp", *std::move(body_jvp));
    const size_t c = second.outputs().size();
    for (size_t k = 0; k < c; ++k) types.push_back(x[k].type());
    // Operands: carried, their tangents, captured, their tangents.
    std::vector<Value> operands(x.begin(), x.begin() + c);
    for (size_t k = 0; k < c; ++k) {
      if (IsFloat(x[k].dtype())) operands.push_back(tangent_or_zeros(k));
    }
    const size_t nc = operands.size();
    operands.insert(operands.end(), x.begin() + c, x.end());
    const size_t ni = operands.size();
    for (size_t k = c; k < x.size(); ++k) {
      if (IsFloat(x[k].dtype())) operands.push_back(tangent_or_zeros(k));
    }
    std::vector<TensorType> arg_types;
    for (const Value& v : operands) arg_types.push_back(v.type());
    // The original functions take (carried, captured); their JVPs
    // (carried, captured, tangents of carried, tangents of captured).
    auto primal = [=](const std::vector<Value>& args) {
      std::vector<Value> p(args.begin(), args.begin() + c);
      p.insert(p.end(), args.begin() + nc, args.begin() + ni);
      return p;
    };
    const std::string cond_name = node.attrs.GetString("cond");
    const std::string loop_cond = DefineFunction(
        b, cond_name + ".jvp", arg_types,
        [&](GraphBuilder& fb, std::vector<Value> args) {
          return Inline(fb, *fb.graph()->function(cond_name), primal(args));
        });
    const std::string loop_body = DefineFunction(
        b, node.attrs.GetString("body") + ".jvp_loop", arg_types,
        [&](GraphBuilder& fb, std::vector<Value> args) {
          std::vector<Value> a = primal(args);
          a.insert(a.end(), args.begin() + c, args.begin() + nc);
          a.insert(a.end(), args.begin() + ni, args.end());
          return Inline(fb, *fb.graph()->function(body_jvp_name), a);
        });
    if (loop_cond.empty() || loop_body.empty()) return {};
    results =
        WhileLoopCall(b, loop_cond, loop_body, operands,
                      node.attrs.GetInt("max_iterations"), node.name + ".jvp");
  }
  if (!b.ok()) return {};
  // Results: the primal values, then the tangents of the float ones.
  std::vector<Value> tangents(types.size());
  size_t next = types.size();
  for (size_t k = 0; k < types.size(); ++k) {
    if (IsFloat(types[k].dtype)) tangents[k] = results[next++];
  }
  return tangents;
}

// The tangent of `node`'s output from its inputs' tangents, by the op's
// JvpKind. Invalid: zero.
Value ApplyJvp(GraphBuilder& b, const Node& node, ValueId id,
               const std::vector<Value>& x, const std::vector<Value>& dx) {
  const OpDef& def = GetOpDef(node.op);
  switch (def.jvp_kind) {
    case JvpKind::kNone:
      return Value();
    case JvpKind::kFromGradient: {
      // Diagonal Jacobians: grad(dy := dx_k)[k] is d(y)/d(x_k) . dx_k.
      Value sum;
      for (size_t k = 0; k < x.size(); ++k) {
        if (!dx[k].valid()) continue;
        GradContext ctx{&b, node, x, b.Wrap(id), dx[k]};
        Value term = def.grad(ctx)[k];
        if (!term.valid()) continue;
        sum = sum.valid() ? sum + term : term;
      }
      return sum;
    }
    case JvpKind::kLinear: {
      std::vector<Value> args;
      for (size_t k = 0; k < x.size(); ++k) {
        if (!IsFloat(x[k].dtype())) {
          args.push_back(x[k]);  // Indices, conditions: as they are.
        } else {
          args.push_back(dx[k].valid() ? dx[k] : ZerosLike(x[k]));
        }
      }
      return b.AddOp(node.op, std::move(args), node.attrs);
    }
    case JvpKind::kMultilinear: {
      Value sum;
      for (size_t k = 0; k < x.size(); ++k) {
        if (!dx[k].valid()) continue;
        std::vector<Value> args = x;
        args[k] = dx[k];
        Value term = b.AddOp(node.op, std::move(args), node.attrs);
        sum = sum.valid() ? sum + term : term;
      }
      return sum;
    }
    case JvpKind::kRule:
      return def.jvp(JvpContext{&b, node, x, b.Wrap(id), dx});
    case JvpKind::kCall:
      return CallJvp(b, node, x, dx);
    case JvpKind::kControl:  // A construct at a time (ConstructJvp).
      ADC_CHECK_MSG(false, "control flow reached ApplyJvp");
  }
  return Value();
}

}  // namespace

absl::StatusOr<JvpResult> AddJvp(Graph* graph, const JvpOptions& options) {
  if (options.of.empty()) {
    return absl::InvalidArgumentError("of: no value to differentiate");
  }
  std::vector<ValueId> of;
  for (const std::string& name : options.of) {
    ADC_ASSIGN_OR_RETURN(ValueId id,
                         passes::ResolveFloatValue(*graph, name, "of"));
    of.push_back(id);
  }
  std::vector<std::string> wrt_names = options.wrt;
  ADC_ASSIGN_OR_RETURN(std::vector<ValueId> wrt,
                       passes::ResolveWrt(*graph, &wrt_names));
  if (!options.tangents.empty() && options.tangents.size() != wrt.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tangents: ", options.tangents.size(), " names for ",
                     wrt.size(), " wrt values"));
  }

  const int level = passes::NextGradLevel(*graph);
  const int n = graph->num_nodes();  // The graph being differentiated.
  GraphBuilder b(graph);
  b.set_grad_level(level);
  NameScope scope(b, passes::LevelScope("jvp", level));

  JvpResult result;
  std::vector<Value> tangent(n);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const std::string name =
        options.tangents.empty() ? "" : options.tangents[k];
    // Tangent inputs are named at the top level, not under "jvp/".
    ADC_ASSIGN_OR_RETURN(
        Value t, TangentInput(b, wrt_names[k], name, graph->type(wrt[k])));
    result.tangents.push_back(t.name());
    tangent[wrt[k]] = tangent[wrt[k]].valid() ? tangent[wrt[k]] + t : t;
  }
  if (!b.ok()) return b.status();

  // Only values some `of` depends on need tangents.
  const std::vector<bool> needed = passes::LiveValues(*graph, of);
  std::vector<bool> is_wrt(n, false);
  for (ValueId w : wrt) is_wrt[w] = true;
  std::map<std::string, std::vector<Value>> construct_tangents;
  // Sweep forwards in topological (id) order.
  for (ValueId i = 0; i < n; ++i) {
    if (!needed[i] || is_wrt[i]) continue;
    const Node& node = graph->node(i);
    if (!IsFloat(node.type.dtype)) continue;
    std::vector<Value> x, dx;
    bool any = false;
    for (ValueId in : node.inputs) {
      x.push_back(b.Wrap(in));
      dx.push_back(tangent[in]);
      any = any || tangent[in].valid();
    }
    if (!any) continue;
    Value t;
    if (IsControlFlow(node)) {
      // A construct's tangents are computed once, at its first node.
      auto [it, added] = construct_tangents.try_emplace(ConstructKey(node));
      if (added) it->second = ConstructJvp(b, node, x, dx);
      if (b.ok()) t = it->second[node.attrs.GetInt("result")];
    } else {
      t = ApplyJvp(b, node, i, x, dx);
    }
    if (!b.ok()) {
      return absl::Status(
          b.status().code(),
          absl::StrCat("while computing the JVP of node ", i, " '", node.name,
                       "' (", GetOpDef(node.op).name,
                       "): ", b.status().message()));
    }
    if (t.valid()) {
      ADC_CHECK_MSG(
          t.type() == node.type,
          absl::StrCat("JVP of ", GetOpDef(node.op).name, " gave ",
                       t.type().ToString(), " for ", node.type.ToString()));
    }
    tangent[i] = t;
  }

  for (size_t k = 0; k < of.size(); ++k) {
    Value t = tangent[of[k]];
    if (!t.valid()) t = ZerosLike(b.Wrap(of[k]));
    if (!b.ok()) return b.status();
    result.outputs.push_back(passes::FreshName(*graph, options.of[k] + ".jvp"));
    graph->AddOutput(result.outputs.back(), t.id(), /*is_gradient=*/true);
  }
  passes::RemoveUnusedNodes(graph, n, level);
  return result;
}

absl::StatusOr<bool> ForwardModePass::Run(Graph* graph) {
  ADC_ASSIGN_OR_RETURN(JvpResult result, AddJvp(graph, options_));
  return true;
}

}  // namespace adc
