// The `adc` subcommands, one file each (cmd_*.cc); main.cc lists them.
#ifndef ADC_TOOLS_COMMANDS_H_
#define ADC_TOOLS_COMMANDS_H_

#include "tools/cli.h"

namespace adc::cli {

Command GradCommand();
Command JvpCommand();
Command VmapCommand();
Command JacobianCommand();  // cmd_jacobian.cc, with hessian and hvp
Command HessianCommand();
Command HvpCommand();
Command GradCheckCommand();
Command CompileCommand();
Command RunCommand();
Command ImportCommand();
Command InspectCommand();
Command DotCommand();
Command OptCommand();
Command BenchCommand();
Command PlotCommand();  // cmd_plot.cc

}  // namespace adc::cli

#endif  // ADC_TOOLS_COMMANDS_H_
