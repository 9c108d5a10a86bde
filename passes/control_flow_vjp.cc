#include "passes/control_flow_vjp.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"
#include "passes/autodiff.h"
#include "passes/derivative_util.h"
#include "passes/pass_util.h"

namespace adc::passes {
namespace {

Value OrZeros(GraphBuilder& b, Value v, const TensorType& type) {
  return v.valid() ? v : Full(b, type, 0.0);
}

// The dtype a tape keeps a carried value in: its own, but bool as i32
// (scatter_add accumulates).
DType TapeDType(DType d) { return d == DType::kBool ? DType::kI32 : d; }

std::vector<Value> CondVjp(GraphBuilder& b, const Node& node,
                           const std::vector<Value>& dys) {
  const std::optional<std::array<std::string, 2>> vjps =
      TransformFunctions(b, node, FunctionVjp, ".vjp");
  if (!vjps) return {};
  const std::vector<TensorType> results =
      FirstFunction(node, *b.graph()).OutputTypes();
  std::vector<Value> operands;
  for (size_t k = 1; k < node.inputs.size(); ++k) {
    operands.push_back(b.Wrap(node.inputs[k]));
  }
  for (size_t k = 0; k < results.size(); ++k) {
    if (IsFloat(results[k].dtype)) {
      operands.push_back(OrZeros(b, dys[k], results[k]));
    }
  }
  const std::vector<Value> d = CondCall(b.Wrap(node.inputs[0]), (*vjps)[0],
                                        (*vjps)[1], operands, "cond.vjp");
  std::vector<Value> grads(node.inputs.size());
  size_t next = 0;
  for (size_t k = 1; k < node.inputs.size() && b.ok(); ++k) {
    if (IsFloat(b.graph()->type(node.inputs[k]).dtype)) grads[k] = d[next++];
  }
  return grads;
}

std::vector<Value> WhileLoopVjp(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& dys) {
  const std::string cond_name = node.attrs.GetString("cond");
  const std::string body_name = node.attrs.GetString("body");
  const int64_t max_iterations = node.attrs.GetInt("max_iterations");
  const Graph& body = SecondFunction(node, *b.graph());
  const size_t c = body.outputs().size();
  const std::vector<TensorType> types = body.InputTypes();
  const std::vector<TensorType> carried(types.begin(), types.begin() + c);
  const std::vector<TensorType> captured(types.begin() + c, types.end());
  const TensorType counter{DType::kI64, {}};
  auto tape_type = [&](const TensorType& t) {
    Dims dims = {max_iterations};
    dims.insert(dims.end(), t.dims.begin(), t.dims.end());
    return TensorType{TapeDType(t.dtype), dims};
  };

  // The body's VJP, and which carried values it reads: only those are
  // recorded. (Differentiating a recording loop again needs its states but
  // not its tapes, which scatter_add's VJP never reads: a second derivative
  // records no tape of tapes.)
  absl::StatusOr<Graph> body_vjp = FunctionVjp(body, *b.graph());
  if (!body_vjp.ok()) return {b.Fail(body_vjp.status())};
  std::vector<size_t> recorded;
  {
    const std::vector<bool> live = LiveValues(*body_vjp);
    const std::vector<ValueId> inputs = body_vjp->inputs();
    for (size_t j = 0; j < c; ++j) {
      if (live[inputs[j]]) recorded.push_back(j);
    }
  }
  const size_t nr = recorded.size();
  const std::string vjp_name =
      b.graph()->AddDerivedFunction(body_name + ".vjp", *std::move(body_vjp));

  // The recording loop: (carried..., k, tapes..., captured...). Each
  // iteration stores the recorded carried values it starts from in row k.
  std::vector<TensorType> record_types = carried;
  record_types.push_back(counter);
  for (size_t j : recorded) record_types.push_back(tape_type(carried[j]));
  record_types.insert(record_types.end(), captured.begin(), captured.end());
  auto original_args = [c, nr](const std::vector<Value>& args) {
    std::vector<Value> x(args.begin(), args.begin() + c);
    x.insert(x.end(), args.begin() + c + 1 + nr, args.end());
    return x;
  };
  const std::string record_cond =
      DefineFunction(b, cond_name + ".record", record_types,
                     [&](GraphBuilder& fb, std::vector<Value> args) {
                       return Inline(fb, *fb.graph()->function(cond_name),
                                     original_args(args));
                     });
  const std::string record_body = DefineFunction(
      b, body_name + ".record", record_types,
      [&](GraphBuilder& fb, std::vector<Value> args) {
        std::vector<Value> next =
            Inline(fb, *fb.graph()->function(body_name), original_args(args));
        const Value k = args[c];
        const Value row = Reshape(k, {1});
        next.push_back(k + Scalar(fb, 1, DType::kI64));
        for (size_t t = 0; t < nr; ++t) {
          const size_t j = recorded[t];
          Dims dims = {1};
          dims.insert(dims.end(), carried[j].dims.begin(),
                      carried[j].dims.end());
          Value s = Reshape(args[j], dims);
          if (s.dtype() != TapeDType(s.dtype())) {
            s = Cast(s, TapeDType(s.dtype()));
          }
          next.push_back(ScatterAdd(args[c + 1 + t], row, s, 0));
        }
        return next;
      });
  if (record_cond.empty() || record_body.empty()) return {};
  std::vector<Value> record_operands;
  for (size_t j = 0; j < c; ++j) {
    record_operands.push_back(b.Wrap(node.inputs[j]));
  }
  record_operands.push_back(Scalar(b, 0, DType::kI64));
  for (size_t j : recorded) {
    record_operands.push_back(Full(b, tape_type(carried[j]), 0.0));
  }
  for (size_t i = c; i < node.inputs.size(); ++i) {
    record_operands.push_back(b.Wrap(node.inputs[i]));
  }
  const std::vector<Value> record =
      WhileLoopCall(b, record_cond, record_body, record_operands,
                    max_iterations, node.name + ".record");
  if (!b.ok()) return {};

  // The backward loop: (j, dcarried (float)..., dcaptured (float)...,
  // tapes..., captured...), from j = the number of iterations down to 0.
  std::vector<size_t> float_carried, float_captured;
  for (size_t j = 0; j < c; ++j) {
    if (IsFloat(carried[j].dtype)) float_carried.push_back(j);
  }
  for (size_t i = 0; i < captured.size(); ++i) {
    if (IsFloat(captured[i].dtype)) float_captured.push_back(i);
  }
  const size_t nfc = float_carried.size(), nfi = float_captured.size();
  std::vector<TensorType> back_types = {counter};
  for (size_t j : float_carried) back_types.push_back(carried[j]);
  for (size_t i : float_captured) back_types.push_back(captured[i]);
  for (size_t j : recorded) back_types.push_back(tape_type(carried[j]));
  back_types.insert(back_types.end(), captured.begin(), captured.end());
  const std::string back_cond = DefineFunction(
      b, body_name + ".backward_cond", back_types,
      [](GraphBuilder& fb, std::vector<Value> args) {
        return std::vector<Value>{Gt(args[0], Scalar(fb, 0, DType::kI64))};
      });
  const std::string back_body = DefineFunction(
      b, body_name + ".backward", back_types,
      [&](GraphBuilder& fb, std::vector<Value> args) {
        const Value j = args[0] - Scalar(fb, 1, DType::kI64);
        const Value row = Reshape(j, {1});
        const size_t tapes = 1 + nfc + nfi, caps = tapes + nr;
        // The state iteration j started from (zeros where the VJP does not
        // read it).
        std::vector<Value> x;
        for (size_t m = 0; m < c; ++m) x.push_back(Full(fb, carried[m], 0.0));
        for (size_t t = 0; t < nr; ++t) {
          const TensorType& type = carried[recorded[t]];
          Value s = Reshape(Gather(args[tapes + t], row, 0), type.dims);
          if (s.dtype() != type.dtype) s = Cast(s, type.dtype);
          x[recorded[t]] = s;
        }
        x.insert(x.end(), args.begin() + caps, args.end());
        for (size_t k = 0; k < nfc; ++k) x.push_back(args[1 + k]);
        const std::vector<Value> d =
            Inline(fb, *fb.graph()->function(vjp_name), x);
        std::vector<Value> next = {j};
        for (size_t k = 0; k < nfc && fb.ok(); ++k) next.push_back(d[k]);
        for (size_t k = 0; k < nfi && fb.ok(); ++k) {
          next.push_back(args[1 + nfc + k] + d[nfc + k]);
        }
        return next;
      });
  if (back_cond.empty() || back_body.empty()) return {};
  std::vector<Value> back_operands = {record[c]};
  for (size_t j : float_carried) {
    back_operands.push_back(OrZeros(b, dys[j], carried[j]));
  }
  for (size_t i : float_captured) {
    back_operands.push_back(Full(b, captured[i], 0.0));
  }
  for (size_t t = 0; t < nr; ++t) back_operands.push_back(record[c + 1 + t]);
  for (size_t i = c; i < node.inputs.size(); ++i) {
    back_operands.push_back(b.Wrap(node.inputs[i]));
  }
  const std::vector<Value> back =
      WhileLoopCall(b, back_cond, back_body, back_operands, max_iterations,
                    node.name + ".backward");
  if (!b.ok()) return {};
  std::vector<Value> grads(node.inputs.size());
  for (size_t k = 0; k < nfc; ++k) grads[float_carried[k]] = back[1 + k];
  for (size_t k = 0; k < nfi; ++k) {
    grads[c + float_captured[k]] = back[1 + nfc + k];
  }
  return grads;
}

}  // namespace

absl::StatusOr<Graph> FunctionVjp(const Graph& f, const Graph& root) {
  Graph g = f;
  g.ShareFunctions(root);
  const std::vector<ValueId> inputs = g.inputs();
  GraphBuilder b(&g);
  // L = sum over float outputs k of <y_k, ct_k>; its gradient with respect
  // to the inputs is the VJP.
  std::vector<Value> terms;
  bool mixed = false;
  for (size_t k = 0; k < f.outputs().size(); ++k) {
    const Value y = b.Wrap(f.outputs()[k].value);
    if (!IsFloat(y.dtype())) continue;
    const Value ct =
        b.Input(FreshName(g, absl::StrCat("ct", k), /*values_too=*/true),
                y.dtype(), y.dims());
    terms.push_back(Sum(y * ct));
    mixed = mixed || terms.back().dtype() != terms.front().dtype();
  }
  std::vector<std::string> wrt;
  for (ValueId id : inputs) {
    if (IsFloat(g.type(id).dtype)) wrt.push_back(g.node(id).name);
  }
  std::vector<Value> grads;
  if (!terms.empty() && !wrt.empty()) {
    Value loss;
    for (Value t : terms) {
      if (mixed) t = Cast(t, DType::kF64);
      loss = loss.valid() ? loss + t : t;
    }
    if (!b.ok()) return b.status();
    GradOptions options;
    options.of = loss.name();
    options.wrt = wrt;
    ADC_ASSIGN_OR_RETURN(std::vector<std::string> names,
                         AddGradients(&g, options));
    for (const std::string& name : names) {
      grads.push_back(b.Wrap(*g.FindOutput(name)));
    }
  } else {
    for (ValueId id : inputs) {
      if (IsFloat(g.type(id).dtype)) grads.push_back(ZerosLike(b.Wrap(id)));
    }
  }
  if (!b.ok()) return b.status();
  g.mutable_outputs().clear();
  for (size_t k = 0; k < grads.size(); ++k) {
    g.AddOutput(absl::StrCat("dx", k), grads[k].id());
  }
  RemoveUnusedNodes(&g, 0);
  return g;
}

std::vector<Value> ConstructVjp(GraphBuilder& b, const Node& node,
                                const std::vector<Value>& dys) {
  ADC_CHECK(IsControlFlow(node));
  return node.op == OpKind::kCond ? CondVjp(b, node, dys)
                                  : WhileLoopVjp(b, node, dys);
}

}  // namespace adc::passes
