#include "passes/vmap.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"
#include "graph/ops/op_util.h"

namespace adc {

namespace {

// A call with batched arguments calls batched copies of its functions: the
// forward function vmapped over the batched arguments, and the vjp function
// over them and y, dy, with the cotangents of shared (unbatched) arguments
// summed over the batch.
//
// The bodies see b's library (so that the batched copies of functions they
// call get names fresh in it), and those copies join b's library.
absl::StatusOr<Value> BatchCall(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& x,
                                const std::vector<bool>& xb, int64_t size) {
  auto load = [&](const std::string& attr) {
    Graph body = *b.graph()->function(node.attrs.GetString(attr));
    body.ShareFunctions(*b.graph());
    return body;
  };
  Graph forward = load("forward"), vjp = load("vjp");
  VmapOptions fo, vo;
  fo.size = vo.size = size;
  const std::vector<ValueId> f_in = forward.inputs(), v_in = vjp.inputs();
  for (size_t k = 0; k < x.size(); ++k) {
    if (!xb[k]) continue;
    fo.batched.push_back(forward.node(f_in[k]).name);
    vo.batched.push_back(vjp.node(v_in[k]).name);
  }
  vo.batched.push_back(vjp.node(v_in[x.size()]).name);      // y
  vo.batched.push_back(vjp.node(v_in[x.size() + 1]).name);  // dy
  ADC_ASSIGN_OR_RETURN(Graph batched_forward, Vmap(forward, fo));
  const std::string f_name = b.graph()->AddDerivedFunction(
      absl::StrCat(node.attrs.GetString("forward"), ".vmap", size),
      std::move(batched_forward));
  vjp.ShareFunctions(*b.graph());
  ADC_ASSIGN_OR_RETURN(Graph batched_vjp, Vmap(vjp, vo));
  {
    GraphBuilder vb(&batched_vjp);
    size_t out = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      if (!IsFloat(x[k].dtype())) continue;
      GraphOutput& o = batched_vjp.mutable_outputs()[out++];
      if (!xb[k]) o.value = Sum(vb.Wrap(o.value), {0}).id();
    }
    if (!vb.ok()) return vb.status();
  }
  const std::string v_name = b.graph()->AddDerivedFunction(
      absl::StrCat(node.attrs.GetString("vjp"), ".vmap", size),
      std::move(batched_vjp));
  Attrs attrs = node.attrs;
  attrs.Set("forward", f_name)
      .Set("vjp", v_name)
      .Set("shape", ops::WithBatch(size, node.type.dims));
  return b.AddOp(OpKind::kCustomVjp, x, std::move(attrs));
}

// Control flow: a construct with batched operands becomes a construct over
// batched functions. A cond on an unbatched predicate calls the batched
// branches; on a batched one both branches run and each instance selects
// its own (as JAX's vmap of cond). A while_loop whose condition stays
// unbatched keeps its trip count, with the carried values that depend on
// batched operands batched (found by iterating to a fixed point); with a
// batched condition every instance's state is carried, the loop runs while
// any instance's condition holds, and an instance whose condition fails
// keeps its state (JAX's vmap of while_loop). max_iterations bounds the
// longest instance.

// Function `name` of b's library batched over the inputs marked in
// `batched_inputs` (at least one). Outputs that do not depend on them stay
// unbatched unless `all_outputs`; `*batched_outputs` says which are
// batched.
absl::StatusOr<Graph> BatchFunction(GraphBuilder& b, const std::string& name,
                                    const std::vector<bool>& batched_inputs,
                                    int64_t size, bool all_outputs,
                                    std::vector<bool>* batched_outputs) {
  Graph f = *b.graph()->function(name);
  f.ShareFunctions(*b.graph());
  VmapOptions options;
  options.size = size;
  const std::vector<ValueId> inputs = f.inputs();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (batched_inputs[k]) options.batched.push_back(f.node(inputs[k]).name);
  }
  if (!all_outputs) {
    for (const GraphOutput& out : f.outputs()) {
      options.keep_unbatched.push_back(out.name);
    }
  }
  ADC_ASSIGN_OR_RETURN(Graph v, Vmap(f, options));
  batched_outputs->clear();
  for (size_t k = 0; k < f.outputs().size(); ++k) {
    batched_outputs->push_back(v.type(v.outputs()[k].value).rank() >
                               f.type(f.outputs()[k].value).rank());
  }
  return v;
}

// Adds a batched function to b's library; returns its name.
std::string AddBatched(GraphBuilder& b, const std::string& base, Graph f,
                       int64_t size) {
  return b.graph()->AddDerivedFunction(absl::StrCat(base, ".vmap", size),
                                       std::move(f));
}

Value Batched(Value v, int64_t size) {
  return BroadcastTo(v, ops::WithBatch(size, v.dims()));
}

// Per-instance choice: where pred[i] (a [size] bool), on_true[i], else
// on_false[i]; both batched.
Value SelectInstances(Value pred, Value on_true, Value on_false) {
  Dims dims(on_true.rank(), 1);
  dims[0] = pred.dims()[0];
  return Select(Reshape(pred, dims), on_true, on_false);
}

// The construct of `node` on operands `x` (batched where `xb`): its results,
// each with whether it is batched.
absl::StatusOr<std::vector<std::pair<Value, bool>>> BatchConstruct(
    GraphBuilder& b, const Node& node, const std::vector<Value>& x,
    const std::vector<bool>& xb, int64_t size) {
  std::vector<std::pair<Value, bool>> results;
  std::vector<bool> flags;
  if (node.op == OpKind::kCond) {
    const std::vector<Value> operands(x.begin() + 1, x.end());
    const std::vector<bool> ob(xb.begin() + 1, xb.end());
    const bool any = std::find(ob.begin(), ob.end(), true) != ob.end();
    std::vector<std::string> branches;
    for (const char* attr : {"then_branch", "else_branch"}) {
      const std::string& name = node.attrs.GetString(attr);
      if (!any) {
        branches.push_back(name);
        continue;
      }
      ADC_ASSIGN_OR_RETURN(Graph v,
                           BatchFunction(b, name, ob, size, true, &flags));
      branches.push_back(AddBatched(b, name, std::move(v), size));
    }
    if (!xb[0]) {
      for (const Value& v : CondCall(x[0], branches[0], branches[1], operands,
                                     node.name + ".vmap")) {
        results.push_back({v, true});
      }
    } else {
      const std::vector<Value> t =
          Inline(b, *b.graph()->function(branches[0]), operands);
      const std::vector<Value> e =
          Inline(b, *b.graph()->function(branches[1]), operands);
      for (size_t k = 0; k < t.size() && b.ok(); ++k) {
        results.push_back(
            {SelectInstances(x[0], any ? t[k] : Batched(t[k], size),
                             any ? e[k] : Batched(e[k], size)),
             true});
      }
    }
    if (!b.ok()) return b.status();
    return results;
  }
  // while_loop.
  const std::string cond = node.attrs.GetString("cond");
  const std::string body = node.attrs.GetString("body");
  const size_t c = b.graph()->function(body)->outputs().size();
  std::vector<bool> in = xb;  // Batched operands of cond and body.
  Graph body_v;               // The body batched over `in`.
  for (bool changed = true; changed;) {
    ADC_ASSIGN_OR_RETURN(body_v,
                         BatchFunction(b, body, in, size, false, &flags));
    changed = false;
    for (size_t j = 0; j < c; ++j) {
      if (flags[j] && !in[j]) in[j] = changed = true;
    }
  }
  ADC_ASSIGN_OR_RETURN(Graph cond_v,
                       BatchFunction(b, cond, in, size, false, &flags));
  const bool batched_pred = flags[0];
  if (batched_pred) {
    // Every carried value is per instance: batch both over all of them.
    for (size_t j = 0; j < c; ++j) in[j] = true;
    ADC_ASSIGN_OR_RETURN(cond_v,
                         BatchFunction(b, cond, in, size, true, &flags));
    ADC_ASSIGN_OR_RETURN(body_v,
                         BatchFunction(b, body, in, size, true, &flags));
  }
  std::string cond_name = AddBatched(b, cond, std::move(cond_v), size);
  std::string body_name = AddBatched(b, body, std::move(body_v), size);
  std::vector<Value> operands = x;
  std::vector<TensorType> types;
  for (size_t k = 0; k < x.size(); ++k) {
    if (in[k] && !xb[k]) operands[k] = Batched(x[k], size);
    types.push_back(operands[k].type());
  }
  if (batched_pred) {
    // Run while any instance's condition holds; the others keep their state.
    const std::string step = body_name, test = cond_name;
    body_name = DefineFunction(
        b, body + ".vmap_masked", types,
        [&](GraphBuilder& fb, std::vector<Value> args) {
          const Value go = Inline(fb, *fb.graph()->function(test), args)[0];
          std::vector<Value> next =
              Inline(fb, *fb.graph()->function(step), args);
          for (size_t j = 0; j < next.size() && fb.ok(); ++j) {
            next[j] = SelectInstances(go, next[j], args[j]);
          }
          return next;
        });
    cond_name = DefineFunction(
        b, cond + ".vmap_any", types,
        [&](GraphBuilder& fb, std::vector<Value> args) {
          const Value go = Inline(fb, *fb.graph()->function(test), args)[0];
          return std::vector<Value>{
              Gt(Max(Cast(go, DType::kI32)), Scalar(fb, 0, DType::kI32))};
        });
  }
  const std::vector<Value> r =
      WhileLoopCall(b, cond_name, body_name, operands,
                    node.attrs.GetInt("max_iterations"), node.name + ".vmap");
  if (!b.ok()) return b.status();
  for (size_t j = 0; j < c; ++j) results.push_back({r[j], in[j]});
  return results;
}

}  // namespace

absl::StatusOr<Graph> Vmap(const Graph& graph, const VmapOptions& options) {
  if (options.size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vmap: the batch size must be at least 1, got ", options.size));
  }
  if (options.batched.empty()) {
    return absl::InvalidArgumentError("vmap: no input to batch");
  }
  absl::flat_hash_set<std::string> batched_names;
  for (const std::string& name : options.batched) {
    std::optional<ValueId> id = graph.Find(name);
    if (!id) {
      return absl::NotFoundError(
          absl::StrCat("vmap: no input named '", name, "'"));
    }
    if (graph.node(*id).op != OpKind::kInput) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: '", name,
                       "' is not an input (only inputs can be batched; "
                       "parameters are shared by every instance)"));
    }
    if (!batched_names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: '", name, "' is listed twice"));
    }
  }
  absl::flat_hash_set<std::string> keep(options.keep_unbatched.begin(),
                                        options.keep_unbatched.end());
  for (const std::string& name : keep) {
    if (!graph.FindOutput(name)) {
      return absl::NotFoundError(
          absl::StrCat("vmap: keep_unbatched: no output named '", name, "'"));
    }
  }

  // Every batched value must stay within the element limit.
  for (const Node& node : graph.nodes()) {
    const int64_t elements = std::max<int64_t>(1, node.type.num_elements());
    if (options.size > ops::kMaxElements / elements) {
      return absl::InvalidArgumentError(
          absl::StrCat("vmap: ", options.size, " instances of '", node.name,
                       "' (", node.type.ToString(), ") would exceed ",
                       ops::kMaxElements, " elements"));
    }
  }
  GraphBuilder b(graph.name());
  b.graph()->ShareFunctions(graph);
  const int n = graph.num_nodes();
  std::vector<Value> value(n);
  std::vector<bool> batched(n, false);
  std::map<std::string, std::vector<std::pair<Value, bool>>> constructs;
  for (ValueId i = 0; i < n; ++i) {
    const Node& node = graph.node(i);
    b.set_grad_level(node.grad_level);
    if (node.op == OpKind::kInput) {
      batched[i] = batched_names.contains(node.name);
      value[i] =
          b.Input(node.name, node.type.dtype,
                  batched[i] ? ops::WithBatch(options.size, node.type.dims)
                             : node.type.dims);
      continue;
    }
    if (node.op == OpKind::kParameter) {
      value[i] = b.Parameter(node.name, node.attrs.GetTensor("value"));
      continue;
    }
    std::vector<Value> x;
    std::vector<bool> xb;
    bool any = false;
    for (ValueId in : node.inputs) {
      x.push_back(value[in]);
      xb.push_back(batched[in]);
      any = any || batched[in];
    }
    if (!any) {
      value[i] = b.AddOp(node.op, std::move(x), node.attrs, node.name);
      continue;
    }
    Value v;
    const int before = b.graph()->num_nodes();
    if (GetOpDef(node.op).family == OpFamily::kControl) {
      // A construct is batched once, at its first node.
      auto [it, added] = constructs.try_emplace(ConstructKey(node));
      if (added) {
        absl::StatusOr<std::vector<std::pair<Value, bool>>> r =
            BatchConstruct(b, node, x, xb, options.size);
        if (!r.ok()) {
          return absl::Status(
              r.status().code(),
              absl::StrCat("vmap: while batching node ", i, " '", node.name,
                           "' (", GetOpDef(node.op).name,
                           "): ", r.status().message()));
        }
        it->second = *std::move(r);
      }
      const auto& [v, is_batched] = it->second[node.attrs.GetInt("result")];
      value[i] = v;
      batched[i] = is_batched;
      continue;
    }
    if (GetOpDef(node.op).family == OpFamily::kCall) {
      ADC_ASSIGN_OR_RETURN(v, BatchCall(b, node, x, xb, options.size));
    } else {
      NameScope scope(b, "vmap");
      v = GetOpDef(node.op).batch(
          BatchContext{&b, node, std::move(x), std::move(xb), options.size});
    }
    if (!b.ok()) {
      return absl::Status(
          b.status().code(),
          absl::StrCat("vmap: while batching node ", i, " '", node.name, "' (",
                       GetOpDef(node.op).name, "): ", b.status().message()));
    }
    const TensorType expected{node.type.dtype,
                              ops::WithBatch(options.size, node.type.dims)};
    ADC_CHECK_MSG(
        v.type() == expected,
        absl::StrCat("batching rule of ", GetOpDef(node.op).name, " gave ",
                     v.type().ToString(), ", expected ", expected.ToString()));
    // The result keeps the node's name (rules name their nodes under vmap/),
    // unless the rule returned an existing value (an identity reshape).
    if (v.id() >= before && !b.graph()->Find(node.name)) {
      v = b.Named(v, node.name);
    }
    value[i] = v;
    batched[i] = true;
  }
  b.set_grad_level(0);
  for (const GraphOutput& out : graph.outputs()) {
    Value v = value[out.value];
    if (!batched[out.value] && !keep.contains(out.name)) {
      NameScope scope(b, "vmap");
      v = BroadcastTo(v, ops::WithBatch(options.size, v.dims()));
    }
    if (!b.ok()) return b.status();
    b.graph()->AddOutput(out.name, v.id(), out.is_gradient);
  }
  return b.Build();
}

}  // namespace adc
