// The driver of lowering: partitions the graph into stages (following the
// fusion plan), assigns every value crossing a stage boundary a buffer, and
// lowers each stage: leaves and graph arguments here, every other op by its
// family's lowering (lowering.h lists the files), then the schedule.
#include "codegen/lower.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "codegen/lowering.h"
#include "graph/check.h"
#include "graph/control_flow.h"
#include "graph/ops/op_def.h"

namespace adc::codegen {

Halide::Type HalideType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return Halide::Float(32);
    case DType::kF64:
      return Halide::Float(64);
    case DType::kI32:
      return Halide::Int(32);
    case DType::kI64:
      return Halide::Int(64);
    case DType::kBool:
      return Halide::UInt(8);
  }
  ADC_CHECK(false);
}

namespace lowering {

void Lowering::Define(ValueId id,
                      const std::function<Expr(const Index&)>& body) {
  Lowered& l = values_[id];
  l.vars = MakeVars(g_.type(id).rank());
  l.func = Func(absl::StrCat("v_", id));
  l.func(HalideVars(l.vars)) = Halide::cast(TypeOf(id), body(AsIndex(l.vars)));
}

void Lowering::LowerNode(ValueId id) {
  if (external_[id]) {
    LowerExternal(id);
    return;
  }
  switch (FamilyOf(g_.node(id).op)) {
    case OpFamily::kLeaf:
      LowerLeaf(id);
      return;
    case OpFamily::kElementwise:
      LowerElementwise(id);
      return;
    case OpFamily::kReduction:
      LowerReduce(id);
      return;
    case OpFamily::kMatMul:
      if (g_.node(id).op == OpKind::kConv) {
        LowerConv(id);
      } else {
        LowerMatMul(id);
      }
      return;
    case OpFamily::kMovement:
      LowerMovement(id);
      return;
    case OpFamily::kScan:
      LowerCumSum(id);
      return;
    case OpFamily::kScatter:
      LowerScatterAdd(id);
      return;
    case OpFamily::kCall:  // CompileGraph inlines calls first.
      ADC_CHECK_MSG(false, "a call reached lowering (not inlined)");
      return;
    case OpFamily::kControl:  // A stage of its own: always external.
      ADC_CHECK_MSG(false, "control flow reached a pipeline's lowering");
      return;
  }
}

// A graph argument or a value of an earlier stage: read from a buffer.
void Lowering::LowerExternal(ValueId id) {
  const Node& node = g_.node(id);
  const Halide::Type t = TypeOf(id);
  Halide::ImageParam p(t, node.type.rank(),
                       absl::StrCat("in_", params_.size()));
  const std::vector<int64_t> strides = RowMajorStrides(node.type.dims);
  for (int d = 0; d < node.type.rank(); ++d) {
    const int h = node.type.rank() - 1 - d;
    p.dim(h).set_bounds(0, static_cast<int>(node.type.dims[d]));
    p.dim(h).set_estimate(0, static_cast<int>(node.type.dims[d]));
    p.dim(h).set_stride(static_cast<int>(strides[d]));
  }
  params_.push_back(p);
  param_values_.push_back(id);
  Define(id, [&](const Index& i) { return p(ToHalideArgs(i)); });
}

bool Lowering::FlatInput(ValueId id) const {
  return external_[id] &&
         g_.type(id).num_elements() <= std::numeric_limits<int32_t>::max();
}

std::optional<Halide::ImageParam> Lowering::FlatView(ValueId id) {
  if (!FlatInput(id)) return std::nullopt;
  if (auto it = flat_views_.find(id); it != flat_views_.end()) {
    return it->second;
  }
  const int64_t n = g_.type(id).num_elements();
  Halide::ImageParam p(TypeOf(id), 1, absl::StrCat("in_", params_.size()));
  p.dim(0).set_bounds(0, static_cast<int>(n));
  p.dim(0).set_estimate(0, static_cast<int>(n));
  p.dim(0).set_stride(1);
  params_.push_back(p);
  param_values_.push_back(id);
  flat_views_.emplace(id, p);
  return p;
}

// Constants (a scalar, or a buffer embedded in the code) and iota. Inputs
// and parameters are always external.
void Lowering::LowerLeaf(ValueId id) {
  const Node& node = g_.node(id);
  const Halide::Type t = TypeOf(id);
  if (node.op == OpKind::kIota) {
    const int64_t axis = node.attrs.GetInt("axis");
    Define(id, [&](const Index& i) { return i[axis]; });
    return;
  }
  ADC_CHECK_MSG(node.op == OpKind::kConstant,
                absl::StrCat("leaf '", node.name, "' is not an argument"));
  const Tensor& value = node.attrs.GetTensor("value");
  if (value.num_elements() == 1) {
    const double v = value.GetDouble(0);
    Expr e = IsFloat(value.dtype()) ? Halide::cast(t, Expr(v))
                                    : Halide::cast(t, Expr(value.GetInt(0)));
    Define(id, [&](const Index&) { return e; });
    return;
  }
  if (value.num_elements() == 0) {
    // Never read (Halide cannot embed a buffer without storage).
    Expr zero = Halide::cast(t, Expr(0));
    Define(id, [&](const Index&) { return zero; });
    return;
  }
  // A tensor constant becomes a buffer embedded in the code.
  std::vector<int> extents;
  for (auto it = value.dims().rbegin(); it != value.dims().rend(); ++it) {
    extents.push_back(static_cast<int>(*it));
  }
  Halide::Buffer<> buffer(t, extents);
  std::vector<uint8_t> bytes = value.ToBytes();
  std::memcpy(buffer.data(), bytes.data(), bytes.size());
  Define(id, [&](const Index& i) { return buffer(ToHalideArgs(i)); });
}

Var FuseOuterAxes(Halide::Stage s, const std::vector<Var>& hv) {
  const int r = static_cast<int>(hv.size());
  Var outer = hv[r - 1];
  for (int d = r - 2; d >= 1; --d) {
    Var fused(absl::StrCat(outer.name(), "_", hv[d].name()));
    s.fuse(hv[d], outer, fused);
    outer = fused;
  }
  return outer;
}

std::vector<int64_t> Lowering::PadPhases(ValueId v) const {
  const Dims& dims = g_.type(v).dims;
  std::vector<int64_t> phases(dims.size(), 1);
  std::vector<ValueId> stack = {v};
  absl::flat_hash_set<ValueId> seen;
  while (!stack.empty()) {
    const ValueId u = stack.back();
    stack.pop_back();
    if (!seen.insert(u).second || g_.type(u).rank() != g_.type(v).rank()) {
      continue;
    }
    // Stored values are loads.
    if (u != v && (!plan_.why[u].empty() || external_[u])) continue;
    const Node& node = g_.node(u);
    if (node.op == OpKind::kPad) {
      const std::vector<int64_t>& interior = node.attrs.GetInts("interior");
      for (size_t d = 0; d < dims.size(); ++d) {
        phases[d] = std::lcm(phases[d], interior[d] + 1);
      }
    } else if (IsCrop(node)) {
      stack.push_back(node.inputs[0]);
    } else if (FamilyOf(node.op) == OpFamily::kElementwise) {
      for (ValueId in : node.inputs) {
        if (g_.type(in).dims == node.type.dims) stack.push_back(in);
      }
    }
  }
  return phases;
}

// Materialized values: computed at the root, parallel over their outer
// dimensions and vectorized at the natural width of the target.
void Lowering::ScheduleDense(Func f, const Dims& dims, Halide::Type t,
                             const std::vector<int64_t>& phases) {
  const int r = static_cast<int>(dims.size());
  if (r == 0) return;
  std::vector<Var> hv = f.args();
  Halide::Stage s(f);
  const int vec = target_.natural_vector_size(t);
  int64_t inner = dims[r - 1];
  const int64_t total = NumElements(dims);
  // Small values stay scalar loops: vector and parallel code for them would
  // cost more compile time than it saves at run time.
  if (total < kVectorizeThreshold) return;
  // Pure definitions only: they may recompute a few elements at the edge
  // (ShiftInwards: the last vector or chunk shifts inwards, no scalar tail
  // loop).
  const TailStrategy tail = TailStrategy::ShiftInwards;
  // Axes in phases: i = p o + j, the phase j unrolled, so that a dilating
  // pad's parity test and division by p fold to constants and each element
  // evaluates only the pads that land on it (a max pool's gradient sums
  // pads of which one in p^2 does, 2x2/2; 3x3/2 in four). The innermost
  // axis is vectorized along o: the pads' operands are dense loads, the
  // stores interleaved. Only axes whose extent is a multiple of p: with a
  // tail, the pads' clamped indices made gathers (the small CNN's
  // max-pool gradient at 11x11 took three times as long).
  std::optional<Var> vector_phase;
  // Elements per iteration of the fused outer loop.
  int64_t per_outer = inner;
  for (int d = 0;
       d < r && static_cast<int>(phases.size()) == r && total != dims[r - 1];
       ++d) {
    const int64_t p = phases[d];
    if (p <= 1 || dims[d] < 2 * p || dims[d] % p != 0) continue;
    const int h = r - 1 - d;
    Var o(absl::StrCat(hv[h].name(), "_po")),
        j(absl::StrCat(hv[h].name(), "_pj"));
    s.split(hv[h], o, j, static_cast<int>(p), TailStrategy::RoundUp).unroll(j);
    hv[h] = o;
    if (h == 0) {
      inner = dims[d] / p;
      vector_phase = j;
    } else {
      per_outer *= p;
    }
  }
  if (total == dims[r - 1]) {  // One row ([n] or [1, ..., 1, n]).
    if (total >= kParallelThreshold) {
      Var xo("xo"), xi("xi");
      s.split(hv[0], xo, xi, kTaskElements, tail)
          .parallel(xo)
          .vectorize(xi, vec, tail);
    } else if (inner >= vec) {
      s.vectorize(hv[0], vec, tail);
    }
    return;
  }
  // Rows narrower than a vector (a 13x13 or 11x11 image) in narrower
  // vectors, the last one shifted inwards: their loads stay dense or
  // strided, where fusing rows into full vectors would gather. (AVX-512,
  // the small CNN's max-pool gradient at 64x64x11x11: scalar 1.66 ms.)
  if (const int width = RowVectorWidth(vec, inner); width > 0) {
    if (vector_phase) {
      // The vectors innermost, each phase a vector loop of its own.
      Var vo(absl::StrCat(hv[0].name(), "_vo")),
          vi(absl::StrCat(hv[0].name(), "_vi"));
      s.split(hv[0], vo, vi, width, tail)
          .reorder(vi, *vector_phase, vo)
          .vectorize(vi);
    } else {
      s.vectorize(hv[0], width, tail);
    }
  }
  if (total >= kParallelThreshold) {
    Var outer = FuseOuterAxes(s, hv);
    // Rows in tasks of about kTaskElements: a task per short row spent
    // more time starting tasks than computing ([512, 512, 3, 3]: 786432
    // tasks of 3 elements, 40 ms; in tasks, 0.6 ms).
    const int64_t rows = std::max<int64_t>(1, kTaskElements / per_outer);
    if (rows > 1) {
      Var task(absl::StrCat(outer.name(), "_task")),
          row(absl::StrCat(outer.name(), "_row"));
      s.split(outer, task, row, static_cast<int>(rows),
              TailStrategy::GuardWithIf);
      outer = task;
    }
    s.parallel(outer);
  }
}

bool Lowering::ScheduleConvCopy(ValueId v) {
  const Lowered& l = values_[v];
  const Dims& dims = g_.type(v).dims;  // n, o, p...
  if (!l.copy_along_channels || dims.size() < 3) return false;
  const int vec = target_.natural_vector_size(TypeOf(v));
  const Dims pixels(dims.begin() + 2, dims.end());
  const int64_t npix = NumElements(pixels);
  // Up to a 4x4 kernel's pixels unrolled, o in whole vectors.
  if (npix > 16 || dims[1] < vec || dims[1] % vec != 0) return false;
  // y(p_last, ..., p_0, o, n) in loops (o_vi, p..., n, o_vo): the pixel
  // loops unrolled inside the vector of o, so that the npix strided stores
  // of a vector are adjacent and Halide interleaves them into dense ones;
  // n next, so that a product laid out [p][o][n] (read in gathers along o)
  // is read again from the same cache lines. (ResNet-18's 512x512x3x3
  // weight gradients, flattened: the scalar copy had taken 3 ms each,
  // about 1% of the step.)
  std::vector<Var> hv = l.func.args();
  const int r = static_cast<int>(hv.size());
  const Var o = hv[r - 2], n = hv[r - 1];
  Var oo("o_vo"), oi("o_vi");
  Halide::Stage s(l.func);
  s.split(o, oo, oi, vec, TailStrategy::RoundUp);
  std::vector<Halide::VarOrRVar> order = {oi};
  for (int h = 0; h < r - 2; ++h) {
    s.unroll(hv[h]);
    order.push_back(hv[h]);
  }
  order.push_back(n);
  order.push_back(oo);
  s.reorder(order).vectorize(oi);
  if (NumElements(dims) >= kParallelThreshold) {
    // Tasks of about kTaskElements: runs of n under one vector of o.
    const int64_t rows = std::max<int64_t>(1, kTaskElements / (vec * npix));
    Var t("no"), task("no_task"), row("no_row");
    s.fuse(n, oo, t)
        .split(t, task, row, static_cast<int>(rows), TailStrategy::GuardWithIf)
        .parallel(task);
  }
  return true;
}

void Lowering::Schedule(const std::vector<bool>& here) {
  for (ValueId v = 0; v < g_.num_nodes(); ++v) {
    if (!here[v] || external_[v]) continue;
    const Node& node = g_.node(v);
    Lowered& l = values_[v];
    switch (FamilyOf(node.op)) {
      case OpFamily::kReduction:
        ScheduleReduction(v);
        break;
      case OpFamily::kMatMul:
        ScheduleMatMul(v);
        // A matmul's Func is its product, scheduled there; a conv's reads
        // its product in place (but is copied out when it is an output).
        if (node.op == OpKind::kMatMul) continue;
        break;
      case OpFamily::kScan:
        ScheduleScan(v);
        break;
      case OpFamily::kScatter:
        ScheduleScatter(v);
        break;
      case OpFamily::kLeaf:
      case OpFamily::kElementwise:
      case OpFamily::kMovement:
      case OpFamily::kCall:
      case OpFamily::kControl:
        break;
    }
    if (in_tuple_.contains(v)) continue;  // Computed inside its tuple's loop.
    bool is_output = false;
    for (const Func& f : output_funcs_) {
      is_output = is_output || f.name() == l.func.name();
    }
    // Materialized values of this stage, and the outputs it writes.
    const bool read_in_place = node.op == OpKind::kConv && !l.gathered;
    if (is_output || (MaterializedHere(v) && !Cheap(g_, v) && !read_in_place)) {
      l.func.compute_root();
      if (!ScheduleConvCopy(v)) {
        ScheduleDense(l.func, node.type.dims, TypeOf(v), PadPhases(v));
      }
    }
  }
}

void Lowering::DescribeShape(const std::vector<ValueId>& outputs,
                             const std::vector<bool>& here) {
  std::vector<int> position(g_.num_nodes(), -1);
  int next = 0;
  for (ValueId v = 0; v < g_.num_nodes(); ++v) {
    if (!here[v]) continue;
    position[v] = next++;
    const Node& node = g_.node(v);
    absl::StrAppend(&shape_, node.type.ToString());
    if (external_[v]) {
      absl::StrAppend(&shape_, " arg;");
      continue;
    }
    absl::StrAppend(&shape_, " ", static_cast<int>(node.op));
    for (ValueId in : node.inputs) absl::StrAppend(&shape_, " ", position[in]);
    absl::StrAppend(&shape_, MaterializedHere(v) ? " m" : "",
                    Cheap(g_, v) ? " c" : "", ";");
    shape_attrs_.push_back(&node.attrs);
  }
  absl::StrAppend(&shape_, " out");
  for (ValueId v : outputs) absl::StrAppend(&shape_, " ", position[v]);
}

absl::Status Lowering::Run(const std::vector<ValueId>& outputs,
                           const std::vector<bool>& external,
                           const std::vector<bool>& temporary) {
  const int n = g_.num_nodes();
  external_ = external;
  // What this stage computes: its outputs and everything they read, up to
  // external values.
  std::vector<bool> here(n, false);
  for (ValueId v : outputs) here[v] = true;
  for (ValueId v = n - 1; v >= 0; --v) {
    if (!here[v] || external_[v]) continue;
    for (ValueId in : g_.node(v).inputs) here[in] = true;
  }
  DescribeShape(outputs, here);
  for (ValueId v = 0; v < n; ++v) {
    if (!here[v]) continue;
    const Node& node = g_.node(v);
    try {
      LowerNode(v);
    } catch (const Halide::Error& e) {
      return absl::InternalError(
          absl::StrCat("while lowering node '", node.name, "' (",
                       GetOpDef(node.op).name, ") to Halide: ", e.what()));
    }
  }
  try {
    // One Func per output. An output whose value is external, or is read by
    // anything else in this stage (a Func or another output) and written to
    // the caller's buffer, is a copy: Halide 14 assumes the buffer of an
    // output Func that other Funcs read is aligned like its own allocations
    // (64 bytes), which callers' buffers need not be. The artifact's
    // temporaries are (artifact_support.c), so values that later stages
    // read are written once, in place. (AVX-512, the small CNN's step: five
    // copies of 0.1 to 0.3 ms each.)
    std::vector<int> reads(n, 0);
    for (ValueId v = 0; v < n; ++v) {
      if (!here[v] || external_[v]) continue;
      for (ValueId in : g_.node(v).inputs) ++reads[in];
    }
    for (ValueId v : outputs) ++reads[v];
    // Element-wise outputs of one shape that nothing else here reads are
    // computed in one loop nest, as the elements of one Tuple-valued Func:
    // their operands are read once per element, and work they share (the
    // inlined Funcs they both call) is computed once (LLVM merges the
    // identical code of one loop body). The pipeline's output buffers are
    // then in the order of output_order_.
    std::vector<std::vector<size_t>> groups;
    std::map<Dims, size_t> group_of_dims;
    for (size_t k = 0; k < outputs.size(); ++k) {
      const ValueId v = outputs[k];
      const bool fusable = reads[v] == 1 && !external_[v] &&
                           FamilyOf(g_.node(v).op) == OpFamily::kElementwise &&
                           g_.type(v).rank() > 0;
      if (!fusable) {
        groups.push_back({k});
        continue;
      }
      auto [it, added] = group_of_dims.emplace(g_.type(v).dims, groups.size());
      if (added) groups.emplace_back();
      groups[it->second].push_back(k);
    }
    for (const std::vector<size_t>& group : groups) {
      const ValueId v = outputs[group[0]];
      const Dims& dims = g_.type(v).dims;
      std::vector<Var> hv = HalideVars(MakeVars(g_.type(v).rank()));
      std::vector<Expr> args(hv.begin(), hv.end());
      Func f;
      if (group.size() > 1) {
        f = Func(absl::StrCat("outs", output_funcs_.size(), "_v", v));
        std::vector<Expr> values;
        Halide::Type widest = TypeOf(v);
        std::vector<int64_t> phases(dims.size(), 1);
        for (size_t k : group) {
          const std::vector<int64_t> p = PadPhases(outputs[k]);
          for (size_t d = 0; d < p.size(); ++d) {
            phases[d] = std::lcm(phases[d], p[d]);
          }
          values.push_back(values_[outputs[k]].func(args));
          in_tuple_.insert(outputs[k]);
          if (TypeOf(outputs[k]).bits() > widest.bits()) {
            widest = TypeOf(outputs[k]);
          }
        }
        f(hv) = Halide::Tuple(values);
        if (!unscheduled_) {
          f.compute_root();
          ScheduleDense(f, dims, widest, phases);
        }
      } else if (external_[v] || (reads[v] > 1 && !temporary[group[0]])) {
        f = Func(absl::StrCat("out", output_funcs_.size(), "_v", v));
        f(hv) = values_[v].func(args);
        if (!unscheduled_) {
          f.compute_root();
          ScheduleDense(f, dims, TypeOf(v));
        }
      } else {
        f = values_[v].func;
      }
      const std::vector<int64_t> strides = RowMajorStrides(dims);
      // (A tuple's other buffers share the first one's bounds.)
      const std::vector<Halide::OutputImageParam> buffers = f.output_buffers();
      for (size_t i = 0; i < buffers.size(); ++i) {
        for (int d = 0; d < static_cast<int>(dims.size()); ++d) {
          const int h = static_cast<int>(dims.size()) - 1 - d;
          Halide::OutputImageParam buffer = buffers[i];
          if (i == 0) buffer.dim(h).set_bounds(0, static_cast<int>(dims[d]));
          buffer.dim(h).set_stride(static_cast<int>(strides[d]));
        }
      }
      Halide::Region estimates;
      for (auto d = dims.rbegin(); d != dims.rend(); ++d) {
        estimates.push_back({0, static_cast<int>(*d)});
      }
      f.set_estimates(estimates);
      output_funcs_.push_back(f);
      output_order_.insert(output_order_.end(), group.begin(), group.end());
    }
    if (!unscheduled_) Schedule(here);
  } catch (const Halide::Error& e) {
    return absl::InternalError(
        absl::StrCat("while scheduling the pipeline: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace lowering

bool HasLowering(OpKind op) {
  switch (FamilyOf(op)) {
    case OpFamily::kLeaf:  // Arguments, constant and iota: LowerLeaf.
      return true;
    case OpFamily::kElementwise:
      return lowering::LowersElementwise(op);
    case OpFamily::kReduction:
      return lowering::LowersReduction(op);
    case OpFamily::kMovement:
      return lowering::LowersMovement(op);
    case OpFamily::kMatMul:
      return op == OpKind::kMatMul || op == OpKind::kConv;
    case OpFamily::kScan:
      return op == OpKind::kCumSum;
    case OpFamily::kScatter:
      return op == OpKind::kScatterAdd;
    case OpFamily::kCall:  // Inlined before lowering (passes/inline_calls.h).
      return true;
    case OpFamily::kControl:  // A stage of C code around its functions.
      return true;
  }
  return false;
}

namespace {

// The stage of control-flow construct plan.control[s]: its operands' buffers
// and a buffer for every result (its first node's home, else a new
// temporary), with copies to the other homes and graph outputs of its
// results.
LoweredStage LowerControl(const Graph& graph, const Plan& plan, int s,
                          const std::vector<StageBuffer>& home,
                          const std::vector<bool>& has_home,
                          const std::vector<int>& graph_outputs,
                          int first_output,
                          std::vector<TensorType>* temporaries) {
  const ValueId first = plan.control[s];
  const Node& node = graph.node(first);
  LoweredStage stage;
  stage.control_node = first;
  ControlCall call;
  call.is_loop = node.op == OpKind::kWhileLoop;
  call.name = node.name;
  if (call.is_loop) {
    call.max_iterations = node.attrs.GetInt("max_iterations");
    call.num_carried = NumResults(node, graph);
  }
  for (ValueId in : node.inputs) {
    ADC_CHECK(has_home[in]);
    call.operands.push_back(home[in]);
    call.operand_types.push_back(graph.type(in));
  }
  // The types of the results: the loop's carried values, or the branches'
  // outputs.
  if (call.is_loop) {
    call.result_types.assign(call.operand_types.begin(),
                             call.operand_types.begin() + call.num_carried);
  } else {
    call.result_types = FirstFunction(node, graph).OutputTypes();
  }
  std::vector<bool> written(call.result_types.size(), false);
  call.results.resize(call.result_types.size());
  auto write = [&](int r, const StageBuffer& b) {
    if (!written[r]) {
      call.results[r] = b;
      written[r] = true;
    } else if (call.results[r].kind != b.kind ||
               call.results[r].index != b.index) {
      call.copies.push_back({r, b});
    }
  };
  for (ValueId v = first; v < graph.num_nodes(); ++v) {
    if (plan.stage[v] != s || !has_home[v]) continue;
    write(static_cast<int>(graph.node(v).attrs.GetInt("result")), home[v]);
    stage.nodes.push_back(absl::StrCat("'", graph.node(v).name, "' (",
                                       GetOpDef(graph.node(v).op).name, ")"));
  }
  for (int k : graph_outputs) {
    const ValueId v = graph.outputs()[k].value;
    write(static_cast<int>(graph.node(v).attrs.GetInt("result")),
          {StageBuffer::kArgument, first_output + k});
  }
  for (size_t r = 0; r < written.size(); ++r) {
    if (written[r]) continue;
    // A result no node needs: written, then dropped.
    call.results[r] = {StageBuffer::kTemporary,
                       static_cast<int>(temporaries->size())};
    temporaries->push_back(call.result_types[r]);
  }
  stage.control = std::move(call);
  return stage;
}

}  // namespace

bool SameShape(const LoweredStage& a, const LoweredStage& b) {
  if (a.control || b.control || a.shape != b.shape) return false;
  for (size_t i = 0; i < a.shape_attrs.size(); ++i) {
    if (!(*a.shape_attrs[i] == *b.shape_attrs[i])) return false;
  }
  return true;
}

absl::StatusOr<LoweredGraph> LowerGraph(const Graph& graph,
                                        const Halide::Target& target,
                                        const LowerLimits& limits,
                                        bool unscheduled) {
  const int n = graph.num_nodes();
  const Plan plan = MakePlan(graph);
  LoweredGraph result;
  for (ValueId v = 0; v < n; ++v) {
    if (!plan.why[v].empty()) result.materialized.push_back({v, plan.why[v]});
  }
  // Signature argument indices: inputs, parameters, outputs.
  std::vector<int> arg_index(n, -1);
  int num_args = 0;
  for (ValueId v : graph.inputs()) arg_index[v] = num_args++;
  for (ValueId v : graph.parameters()) arg_index[v] = num_args++;
  const int first_output = num_args;
  // The stage in which each needed value becomes available to later stages
  // (-1: a graph argument, available from the start).
  std::vector<int> ready(n, -2);
  for (ValueId v = 0; v < n; ++v) {
    const OpKind op = graph.node(v).op;
    if (op == OpKind::kInput || op == OpKind::kParameter) ready[v] = -1;
    if (plan.stage[v] >= 0) ready[v] = plan.stage[v];
  }
  // Which later stages read each value (through inlined consumers).
  std::vector<std::vector<bool>> read_by(plan.num_stages,
                                         std::vector<bool>(n, false));
  // Outputs of each stage: its materialized values that later stages read,
  // and the graph outputs computed there (graph outputs that are arguments,
  // or fused values, are computed in the last stage: a pipeline).
  std::vector<std::vector<ValueId>> stage_values(plan.num_stages);
  std::vector<std::vector<int>> stage_graph_outputs(plan.num_stages);
  ADC_CHECK(plan.control.back() < 0);
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const ValueId v = graph.outputs()[k].value;
    const int s = ready[v] >= 0 ? ready[v] : plan.num_stages - 1;
    stage_graph_outputs[s].push_back(static_cast<int>(k));
  }
  for (int s = plan.num_stages - 1; s >= 0; --s) {
    std::vector<bool>& reads = read_by[s];
    for (int k : stage_graph_outputs[s]) reads[graph.outputs()[k].value] = true;
    for (ValueId v = n - 1; v >= 0; --v) {
      if (plan.stage[v] == s) reads[v] = true;
      if (!reads[v] || ready[v] == -1 || (ready[v] >= 0 && ready[v] < s)) {
        continue;
      }
      for (ValueId in : graph.node(v).inputs) reads[in] = true;
    }
  }
  // Where each value is stored for later stages: the caller's buffer of the
  // first graph output that names it, or a temporary.
  std::vector<StageBuffer> home(n);
  std::vector<bool> has_home(n, false);
  for (ValueId v = 0; v < n; ++v) {
    if (ready[v] == -1) {
      home[v] = {StageBuffer::kArgument, arg_index[v]};
      has_home[v] = true;
    }
  }
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const ValueId v = graph.outputs()[k].value;
    if (!has_home[v]) {
      home[v] = {StageBuffer::kArgument, first_output + static_cast<int>(k)};
      has_home[v] = true;
    }
  }
  for (int s = 0; s < plan.num_stages; ++s) {
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] != s || has_home[v]) continue;
      bool later = false;
      for (int t = s + 1; t < plan.num_stages; ++t)
        later = later || read_by[t][v];
      if (!later) continue;
      home[v] = {StageBuffer::kTemporary,
                 static_cast<int>(result.temporaries.size())};
      has_home[v] = true;
      result.temporaries.push_back(graph.type(v));
    }
  }
  for (int s = 0; s < plan.num_stages; ++s) {
    if (plan.control[s] >= 0) {
      result.stages.push_back(LowerControl(graph, plan, s, home, has_home,
                                           stage_graph_outputs[s], first_output,
                                           &result.temporaries));
      continue;
    }
    // This stage's outputs: its values needed later (in their homes), then
    // graph outputs it computes that are not those values' homes.
    std::vector<ValueId> outputs;
    LoweredStage stage;
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] != s || !has_home[v] || ready[v] == -1) continue;
      outputs.push_back(v);
      stage.outputs.push_back(home[v]);
      stage.output_types.push_back(graph.type(v));
    }
    for (int k : stage_graph_outputs[s]) {
      const ValueId v = graph.outputs()[k].value;
      const StageBuffer b{StageBuffer::kArgument, first_output + k};
      if (has_home[v] && home[v].kind == b.kind && home[v].index == b.index &&
          ready[v] >= 0) {
        continue;  // Written above.
      }
      outputs.push_back(v);
      stage.outputs.push_back(b);
      stage.output_types.push_back(graph.type(v));
    }
    if (outputs.empty()) continue;
    std::vector<bool> external(n, false);
    for (ValueId v = 0; v < n; ++v) {
      external[v] = ready[v] == -1 || (ready[v] >= 0 && ready[v] < s);
    }
    lowering::Lowering lowering(graph, target, plan, s, limits, unscheduled);
    std::vector<bool> temporary;
    for (const StageBuffer& b : stage.outputs) {
      temporary.push_back(b.kind == StageBuffer::kTemporary);
    }
    ADC_RETURN_IF_ERROR(lowering.Run(outputs, external, temporary));
    {
      // The pipeline writes its outputs in the lowering's order.
      std::vector<StageBuffer> buffers;
      std::vector<TensorType> types;
      for (size_t k : lowering.output_order()) {
        buffers.push_back(stage.outputs[k]);
        types.push_back(stage.output_types[k]);
      }
      stage.outputs = std::move(buffers);
      stage.output_types = std::move(types);
    }
    for (size_t i = 0; i < lowering.params().size(); ++i) {
      const ValueId v = lowering.param_values()[i];
      ADC_CHECK(has_home[v]);
      stage.args.push_back(lowering.params()[i]);
      stage.inputs.push_back(home[v]);
      // A param of another rank is a flat view of the value (FlatView).
      TensorType type = graph.type(v);
      if (lowering.params()[i].dimensions() != type.rank()) {
        type.dims = {type.num_elements()};
      }
      stage.input_types.push_back(type);
    }
    for (ValueId v = 0; v < n; ++v) {
      if (plan.stage[v] == s && ready[v] != -1) {
        stage.nodes.push_back(absl::StrCat("'", graph.node(v).name, "' (",
                                           GetOpDef(graph.node(v).op).name,
                                           ")"));
      }
    }
    stage.shape = std::move(lowering.shape());
    stage.shape_attrs = std::move(lowering.shape_attrs());
    stage.pipeline = Halide::Pipeline(lowering.output_funcs());
    result.stages.push_back(std::move(stage));
  }
  return result;
}

}  // namespace adc::codegen
