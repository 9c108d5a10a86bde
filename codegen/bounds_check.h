// A bounds-checked build of generated code: a Halide custom lowering pass
// that guards every load and store of the final lowered statement (after
// vectorization, loop partitioning and every other Halide pass, so exactly
// the accesses the machine code makes) with a check of the range of elements
// it touches against the buffer it addresses: an input or output buffer (its
// shape), an embedded constant, or an allocation of the pipeline (its
// extents, without the padding Halide adds). An access outside calls
// adc_bounds_error(buffer, first, last, elements) before touching memory,
// which the artifact defines (codegen/artifact_writer.cc) to print
// "adc: out-of-bounds access in generated code: ..." and abort, as
// AddressSanitizer does. The accesses keep their form (a dense vector load
// stays one), so the code checked is the code that runs unchecked.
//
// Used by the memory-checked levels of the compiled tests
// (codegen/testing.h) and by `adc compile --check-bounds`. Masked
// (predicated) accesses are left unchecked: they touch only the lanes of
// their mask, which the pass does not evaluate.
#ifndef ADC_CODEGEN_BOUNDS_CHECK_H_
#define ADC_CODEGEN_BOUNDS_CHECK_H_

#include "Halide.h"

namespace adc::codegen {

class BoundsCheck : public Halide::Internal::IRMutator {
 public:
  using IRMutator::visit;

  // How many loads and stores got a check, and how many could not.
  int checked() const { return checked_; }
  int unchecked() const { return unchecked_; }

 protected:
  Halide::Expr visit(const Halide::Internal::Load* op) override;
  Halide::Internal::Stmt visit(const Halide::Internal::Store* op) override;
  Halide::Internal::Stmt visit(const Halide::Internal::Allocate* op) override;

 private:
  // The condition that an access at `index` (scalar or vector) stays within
  // the buffer `name`, and the error when it does not; both undefined (and
  // counted unchecked) for a masked access or an unknown buffer.
  std::pair<Halide::Expr, Halide::Expr> Check(
      const std::string& name, const Halide::Expr& index,
      const Halide::Expr& predicate, const Halide::Buffer<>& image,
      const Halide::Internal::Parameter& param);

  Halide::Internal::Scope<Halide::Expr> allocations_;  // Name -> elements.
  int checked_ = 0;
  int unchecked_ = 0;
};

}  // namespace adc::codegen

#endif  // ADC_CODEGEN_BOUNDS_CHECK_H_
