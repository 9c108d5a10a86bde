#include "tools/dot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/ops/op_def.h"

extern char** environ;

namespace adc {
namespace {

// A DOT double-quoted string: backslashes and quotes escaped; newlines as the
// centered line break "\n".
std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string OpLine(const Node& node) {
  if (node.op == OpKind::kConstant) {
    const Tensor& value = node.attrs.GetTensor("value");
    if (value.num_elements() == 1) {
      return absl::StrCat("constant ",
                          IsFloat(value.dtype())
                              ? absl::StrFormat("%g", value.GetDouble(0))
                              : absl::StrCat(value.GetInt(0)));
    }
  }
  return GetOpDef(node.op).name;
}

std::string NodeStatement(const Graph& graph, ValueId id) {
  const Node& node = graph.node(id);
  const std::string label =
      absl::StrCat(node.name, "\n", OpLine(node), "\n", node.type.ToString());
  std::string attrs = absl::StrCat("label=", Quote(label));
  // Constants look alike everywhere (small, grey); in the gradient part the
  // cluster marks them.
  if (node.op == OpKind::kConstant) {
    absl::StrAppend(&attrs, ", fillcolor=", Quote(kConstantColor),
                    ", fontsize=7, fontcolor=\"gray35\", color=\"gray60\", "
                    "height=0.1");
  } else if (node.grad_level > 0) {
    absl::StrAppend(&attrs, ", fillcolor=", Quote(GradColor(node.grad_level)));
  } else if (node.op == OpKind::kInput) {
    absl::StrAppend(&attrs, ", fillcolor=", Quote(kInputColor));
  } else if (node.op == OpKind::kParameter) {
    absl::StrAppend(&attrs, ", fillcolor=", Quote(kParameterColor));
  } else {
    absl::StrAppend(&attrs, ", fillcolor=", Quote(kOpColor));
  }
  return absl::StrCat("n", id, " [", attrs, "];\n");
}

}  // namespace

const char* GradColor(int level) {
  static const char* const kColors[] = {"moccasin", "lightpink", "lightcyan",
                                        "khaki"};
  return kColors[(level - 1) % 4];
}

std::string GraphToDot(const Graph& graph) {
  std::string out = absl::StrCat("digraph ", Quote(graph.name()), " {\n");
  absl::StrAppend(
      &out, "  graph [label=", Quote(graph.name()),
      ", labelloc=t, fontname=\"monospace\", fontsize=12, ranksep=0.2];\n",
      "  node [shape=box, style=filled, fontname=\"monospace\", fontsize=10, "
      "height=0.2];\n",
      "  edge [arrowsize=0.6];\n");

  // Forward nodes at the top level; gradient nodes in one cluster per level.
  std::map<int, std::vector<ValueId>> by_level;
  for (ValueId id = 0; id < graph.num_nodes(); ++id) {
    by_level[graph.node(id).grad_level].push_back(id);
  }
  for (const auto& [level, ids] : by_level) {
    std::string indent = "  ";
    if (level > 0) {
      absl::StrAppend(
          &out, "  subgraph cluster_grad", level, " {\n",
          "    label=", Quote(absl::StrCat("gradient (autodiff #", level, ")")),
          ";\n    style=\"dashed,rounded\";\n    color=\"gray50\";\n");
      indent = "    ";
    }
    for (ValueId id : ids)
      absl::StrAppend(&out, indent, NodeStatement(graph, id));
    if (level > 0) absl::StrAppend(&out, "  }\n");
  }

  // Roots: one node per output.
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const GraphOutput& o = graph.outputs()[i];
    const std::string label =
        absl::StrCat(o.name, "\noutput\n", graph.type(o.value).ToString());
    absl::StrAppend(&out, "  out", i, " [label=", Quote(label), ", fillcolor=",
                    Quote(o.is_gradient ? kGradOutputColor : kOutputColor),
                    ", style=\"filled,bold\"];\n");
  }

  // Edges.
  for (ValueId id = 0; id < graph.num_nodes(); ++id) {
    for (ValueId input : graph.node(id).inputs) {
      absl::StrAppend(&out, "  n", input, " -> n", id, ";\n");
    }
  }
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    absl::StrAppend(&out, "  n", graph.outputs()[i].value, " -> out", i, ";\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

absl::Status RenderDot(const std::string& dot_text, const std::string& format,
                       const std::string& output_path) {
  // The DOT text and dot's stderr go through temporary files: no pipes, so no
  // deadlock whatever dot prints.
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string base =
      absl::StrCat(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp", "/adc_dot_");
  std::string input_name = base + "XXXXXX";
  std::string errors_name = base + "XXXXXX";
  const int input_fd = mkstemp(input_name.data());
  if (input_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary file: ", std::strerror(errno)));
  }
  const int errors_fd = mkstemp(errors_name.data());
  if (errors_fd < 0) {
    close(input_fd);
    unlink(input_name.c_str());
    return absl::InternalError(
        absl::StrCat("cannot create a temporary file: ", std::strerror(errno)));
  }
  auto cleanup = [&] {
    close(errors_fd);
    unlink(input_name.c_str());
    unlink(errors_name.c_str());
  };
  const bool written = write(input_fd, dot_text.data(), dot_text.size()) ==
                       static_cast<ssize_t>(dot_text.size());
  close(input_fd);
  if (!written) {
    cleanup();
    return absl::InternalError("cannot write a temporary file");
  }

  const std::string type_flag = absl::StrCat("-T", format);
  std::vector<std::string> argv_strings = {"dot", type_flag, "-o", output_path,
                                           input_name};
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, errors_fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  pid_t pid;
  const int spawn_error =
      posix_spawnp(&pid, "dot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  const std::string not_found =
      "Graphviz 'dot' was not found on PATH; install graphviz to write ." +
      format + ", or write DOT text with -o FILE.dot";
  if (spawn_error != 0) {
    cleanup();
    if (spawn_error == ENOENT) return absl::FailedPreconditionError(not_found);
    return absl::InternalError(absl::StrCat("cannot run Graphviz 'dot': ",
                                            std::strerror(spawn_error)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream errors_file(errors_name);
  std::string first_error;
  std::getline(errors_file, first_error);
  cleanup();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return absl::FailedPreconditionError(not_found);
  }
  return absl::InternalError(
      absl::StrCat("Graphviz 'dot ", type_flag, "' failed",
                   first_error.empty() ? "" : absl::StrCat(": ", first_error)));
}

}  // namespace adc
