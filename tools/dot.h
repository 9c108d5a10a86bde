// Graphviz pictures of graphs (`adc dot`), after torchviz's make_dot.
//
// Every node is a box labelled "name\nop\nf32[2,3]" (scalar constants show
// their value: "constant 1"). Colors tell the kinds apart:
//   - leaves: inputs kInputColor, parameters kParameterColor, constants
//     small and grey (kConstantColor);
//   - forward ops: kOpColor;
//   - the gradient part: nodes with grad_level k > 0 sit in a cluster
//     "cluster_grad<k>" labelled "gradient (autodiff #k)" and, except
//     constants, are filled with GradColor(k);
//   - roots: each graph output is an extra node "out<i>" labelled
//     "name\noutput\ntype", filled kOutputColor, or kGradOutputColor for a
//     gradient output, with an edge from the value it names.
// Edges run from a value to each node that uses it (once per use).
#ifndef ADC_TOOLS_DOT_H_
#define ADC_TOOLS_DOT_H_

#include <string>

#include "absl/status/status.h"
#include "graph/graph.h"

namespace adc {

inline constexpr char kInputColor[] = "lightblue";
inline constexpr char kParameterColor[] = "thistle";
inline constexpr char kConstantColor[] = "gray92";
inline constexpr char kOpColor[] = "white";
inline constexpr char kOutputColor[] = "darkolivegreen1";
inline constexpr char kGradOutputColor[] = "orange";
// Fill of gradient nodes of autodiff level `level` >= 1.
const char* GradColor(int level);

// The DOT text of `graph`. Node ids are "n<value id>" and "out<output index>".
std::string GraphToDot(const Graph& graph);

// Runs Graphviz (`dot -T<format>`) on `dot_text`, writing `output_path`.
// Errors: dot not installed (not on PATH), or dot failing (its first error
// line is quoted).
absl::Status RenderDot(const std::string& dot_text, const std::string& format,
                       const std::string& output_path);

}  // namespace adc

#endif  // ADC_TOOLS_DOT_H_
