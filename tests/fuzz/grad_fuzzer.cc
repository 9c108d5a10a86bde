// Fuzz target: reverse-mode autodiff on any graph that loads (and so
// verifies). It must never crash, and when it succeeds its result must
// verify and load again: the gradient of every output that has one, w.r.t.
// every float input and parameter (a seed of ones for non-scalar outputs),
// then a second order on the first gradient.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.pb.h"
#include "graph/serialize.h"
#include "graph/verifier.h"
#include "passes/autodiff.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Differentiates `of` in a copy of `graph` and checks what comes out.
// Returns the graph with the gradients and the first gradient's name, if
// autodiff succeeded.
std::optional<std::pair<adc::Graph, std::string>> Differentiate(
    const adc::Graph& graph, const std::string& of) {
  absl::StatusOr<adc::Graph> copy =
      adc::GraphFromProto(adc::GraphToProto(graph));
  adc::fuzz::Check(
      copy.ok(), "a verified graph does not copy: " + copy.status().ToString());
  adc::GradOptions options;
  options.of = of;
  options.seed = "ones";
  absl::StatusOr<std::vector<std::string>> grads =
      adc::AddGradients(&*copy, options);
  if (!grads.ok()) return std::nullopt;
  const std::string status = adc::Verify(*copy).ToString();
  adc::fuzz::Check(status == "OK", "the gradient graph of '" + of +
                                       "' does not verify: " + status);
  absl::StatusOr<adc::Graph> reloaded =
      adc::GraphFromProto(adc::GraphToProto(*copy));
  adc::fuzz::Check(reloaded.ok(), "the gradient graph does not load: " +
                                      reloaded.status().ToString());
  std::string first = grads->empty() ? "" : (*grads)[0];
  return std::make_pair(std::move(*copy), std::move(first));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  adc::proto::GraphDef def;
  if (!def.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<adc::Graph> graph = adc::GraphFromProto(def);
  if (!graph.ok()) return 0;
  std::vector<std::string> outputs;
  for (const auto& output : def.outputs()) outputs.push_back(output.name());
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto first = Differentiate(*graph, outputs[i]);
    if (i == 0 && first.has_value() && !first->second.empty()) {
      Differentiate(first->first, first->second);  // Second order.
    }
  }
  return 0;
}
