// adc: the command-line tool. See `adc help` and tools/cli.h.
#include <vector>

#include "tools/cli.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  namespace cli = adc::cli;
  // In `adc help` order.
  const std::vector<cli::Command> commands = {
      cli::GradCommand(),      cli::JvpCommand(),     cli::VmapCommand(),
      cli::JacobianCommand(),  cli::HessianCommand(), cli::HvpCommand(),
      cli::GradCheckCommand(), cli::CompileCommand(), cli::RunCommand(),
      cli::ImportCommand(),    cli::InspectCommand(), cli::DotCommand(),
      cli::OptCommand(),       cli::BenchCommand(),   cli::PlotCommand(),
  };
  return cli::Main(commands, argc, argv);
}
