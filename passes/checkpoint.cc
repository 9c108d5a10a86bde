#include "passes/checkpoint.h"

#include "passes/autodiff.h"
#include "passes/derivative_util.h"

namespace adc {

Value Checkpoint(GraphBuilder& b, const std::string& name,
                 const std::vector<Value>& args, const CustomForwardFn& fn) {
  return CustomVjp(
      b, name, args, fn,
      [fn](GraphBuilder& vb, const std::vector<Value>& x, Value,
           Value dy) -> std::vector<Value> {
        // Recompute from the arguments, after dy.
        std::vector<Value> xr;
        std::vector<std::string> wrt;
        for (const Value& v : x) {
          xr.push_back(Barrier(v, {dy}));
          if (xr.back().valid() && IsFloat(v.dtype())) {
            wrt.push_back(xr.back().name());
          }
        }
        Value y = fn(vb, xr);
        if (!vb.ok() || !y.valid()) return {};
        GradOptions grad;
        grad.of = y.name();
        grad.wrt = wrt;
        grad.seed = dy.name();
        absl::StatusOr<std::vector<std::string>> names =
            wrt.empty() ? std::vector<std::string>{}
                        : AddGradients(vb.graph(), grad);
        if (!names.ok()) {
          vb.Fail(names.status());
          return {};
        }
        std::vector<Value> cotangents;
        size_t next = 0;
        for (const Value& v : x) {
          if (!IsFloat(v.dtype())) {
            cotangents.push_back(Value());
            continue;
          }
          const std::string& out = (*names)[next++];
          cotangents.push_back(vb.Wrap(*vb.graph()->FindOutput(out)));
          passes::RemoveOutput(vb.graph(), out);
        }
        return cotangents;
      });
}

}  // namespace adc
