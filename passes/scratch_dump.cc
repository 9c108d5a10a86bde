#include <iostream>
#include "graph/serialize.h"
#include "passes/algebraic_simplifier.h"
#include "passes/pipeline.h"
using namespace adc;
int main(int argc, char** argv) {
  auto g = LoadGraph(argv[1]);
  if (!g.ok()) { std::cerr << g.status(); return 1; }
  auto p = OptimizationPipeline({.max_rounds = 1});
  (void)p->Run(&*g);
  std::string before = GraphToText(*g);
  AlgebraicSimplifier s;
  auto r = s.Run(&*g);
  std::cout << "changed=" << *r << "\n";
  SaveGraph(*g, "/tmp/scratch/after.pbtxt").IgnoreError();
  Graph b = *GraphFromText(before);
  SaveGraph(b, "/tmp/scratch/before.pbtxt").IgnoreError();
}
