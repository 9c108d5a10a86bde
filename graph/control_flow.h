// Control-flow constructs in the graph (graph/ops/control.cc): cond and
// while_loop. A construct with several results is several nodes, one per
// result, equal but for the attribute `result`: each node is meaningful
// alone ("result k of this construct"), so passes that treat nodes one at a
// time (CSE, DCE, serialization) need nothing special, and the passes and
// backends that must see a construct whole (the interpreter, autodiff,
// forward mode, vmap, code generation) group its nodes with these helpers.
#ifndef ADC_GRAPH_CONTROL_FLOW_H_
#define ADC_GRAPH_CONTROL_FLOW_H_

#include <array>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace adc {

// Whether `node` is a cond or while_loop node.
bool IsControlFlow(const Node& node);

// A string equal for exactly the nodes of one construct: op, operands and
// every attribute but `result` (and cond's dtype and shape, which follow
// from it).
std::string ConstructKey(const Node& node);

// The control-flow constructs of `graph`: for each, the ids of its nodes in
// ascending order (two nodes may have the same result). Constructs are in
// order of their first node.
std::vector<std::vector<ValueId>> Constructs(const Graph& graph);

// The names of the functions a construct calls: cond's branches (then,
// else); while_loop's (cond, body).
std::array<std::string, 2> FunctionNames(const Node& node);

// Those functions, verified to be in `library`.
const Graph& FirstFunction(const Node& node, const Graph& library);
const Graph& SecondFunction(const Node& node, const Graph& library);

// How many results the construct has: the branches' outputs, or the loop's
// carried values (the body's outputs). Its operands after the carried values
// are captured (loop invariant).
int NumResults(const Node& node, const Graph& library);

// Whether any node of `graph` or of its functions is control flow (graph
// format version 3).
bool HasControlFlow(const Graph& graph);

}  // namespace adc

#endif  // ADC_GRAPH_CONTROL_FLOW_H_
