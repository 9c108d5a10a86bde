#include "codegen/bounds_check.h"

namespace adc::codegen {

using Halide::Expr;
using Halide::Internal::Allocate;
using Halide::Internal::Block;
using Halide::Internal::Broadcast;
using Halide::Internal::Call;
using Halide::Internal::IfThenElse;
using Halide::Internal::Load;
using Halide::Internal::Ramp;
using Halide::Internal::Stmt;
using Halide::Internal::Store;
using Halide::Internal::StringImm;
using Halide::Internal::VectorReduce;

namespace {

// The least and greatest element an index touches: a ramp's first and last
// lanes, a broadcast's value, otherwise (a gather) the lanes' min and max.
std::pair<Expr, Expr> IndexRange(const Expr& index) {
  if (index.type().is_scalar()) return {index, index};
  if (const Ramp* r = index.as<Ramp>()) {
    if (r->base.type().is_scalar()) {
      Expr last = r->base + r->stride * (r->lanes - 1);
      return {Halide::min(r->base, last), Halide::max(r->base, last)};
    }
  }
  if (const Broadcast* b = index.as<Broadcast>()) return IndexRange(b->value);
  return {VectorReduce::make(VectorReduce::Min, index, 1),
          VectorReduce::make(VectorReduce::Max, index, 1)};
}

bool IsAlwaysTrue(const Expr& predicate) {
  return !predicate.defined() || Halide::Internal::is_const_one(predicate);
}

}  // namespace

std::pair<Expr, Expr> BoundsCheck::Check(
    const std::string& name, const Expr& index, const Expr& predicate,
    const Halide::Buffer<>& image, const Halide::Internal::Parameter& param) {
  Expr elements;
  if (!IsAlwaysTrue(predicate)) {
    // Masked: touches only the lanes of its mask.
  } else if (image.defined()) {
    elements = static_cast<int>(image.number_of_elements());
  } else if (param.defined() && param.is_buffer()) {
    // Dense buffers with constant shapes (lower.cc sets them): the last
    // element is at sum((extent - 1) * stride).
    Expr last = 0;
    for (int d = 0; d < param.dimensions() && last.defined(); ++d) {
      Expr extent = param.extent_constraint(d);
      Expr stride = param.stride_constraint(d);
      last = extent.defined() && stride.defined() ? last + (extent - 1) * stride
                                                  : Expr();
    }
    if (last.defined()) elements = last + 1;
  } else if (allocations_.contains(name)) {
    elements = allocations_.get(name);
  }
  if (!elements.defined()) {
    ++unchecked_;
    return {};
  }
  ++checked_;
  auto [lo, hi] = IndexRange(index);
  Expr ok = lo >= 0 && hi < elements;
  Expr error =
      Call::make(Halide::Int(32), "adc_bounds_error",
                 {StringImm::make(name), lo, hi, elements}, Call::Extern);
  return {ok, error};
}

Expr BoundsCheck::visit(const Load* op) {
  Expr e = IRMutator::visit(op);
  const Load* load = e.as<Load>();  // IRMutator rebuilds a Load.
  auto [ok, error] =
      Check(load->name, load->index, load->predicate, load->image, load->param);
  if (!ok.defined()) return e;
  // if (ok) the load, else the error (which does not return). A branch, so
  // the load itself keeps its form (a dense vector load stays one).
  Expr fail = Halide::cast(load->type.element_of(), error);
  if (load->type.is_vector()) fail = Broadcast::make(fail, load->type.lanes());
  return Call::make(load->type, Call::if_then_else, {ok, e, fail},
                    Call::PureIntrinsic);
}

Stmt BoundsCheck::visit(const Store* op) {
  Stmt s = IRMutator::visit(op);
  const Store* store = s.as<Store>();  // IRMutator rebuilds a Store.
  auto [ok, error] = Check(store->name, store->index, store->predicate,
                           Halide::Buffer<>(), store->param);
  if (!ok.defined()) return s;
  return Block::make(
      IfThenElse::make(!ok, Halide::Internal::Evaluate::make(error)), s);
}

Stmt BoundsCheck::visit(const Allocate* op) {
  Expr elements = 1;
  for (const Expr& e : op->extents) elements = elements * e;
  allocations_.push(op->name, elements);
  Stmt s = IRMutator::visit(op);
  allocations_.pop(op->name);
  return s;
}

}  // namespace adc::codegen
