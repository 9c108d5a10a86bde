"""adc_library: a graph compiled ahead of time into a cc_library.

Like Halide's halide_library and TensorFlow's tf_library: the graph (a .pb or
.pbtxt file, or a builder program that writes one) is optionally
differentiated (`adc grad`), then compiled with `adc compile` into a static
library and a header with a typed C++ entry point:

    adc_library(
        name = "scalar_grad",
        graph = "//models/seeds:scalar.pbtxt",
        grad = "y",                 # adc grad --of y
    )

    #include "path/to/scalar_grad.h"
    float x1 = 2, x2 = 3, y, g1, g2;
    int rc = scalar_grad(&x1, &x2, &y, &g1, &g2);  // 0 on success

Arguments of the entry point: inputs, parameters (nullptr: the stored
value), outputs, in the graph's order; dense row-major buffers. The header
also declares <function>_signature(), <function>_last_error() and
<function>_set_num_threads().
"""

def adc_library(
        name,
        graph,
        grad = None,
        wrt = None,
        seed = None,
        function_name = None,
        target = "host",
        **kwargs):
    """Compiles `graph` (file or builder program) into cc_library `name`.

    Args:
      name: the cc_library; the header is <name>.h.
      graph: a .pb/.pbtxt file, or a binary run as `graph OUT.pb`.
      grad: value to differentiate (adc grad --of), or None.
      wrt: list of values to differentiate with respect to (default: every
        floating-point input and parameter).
      seed: "ones" or the name of a seed input, for a non-scalar `grad`.
      function_name: the entry point's name (default: `name`).
      target: Halide target string; "host" (the default) is the build
        machine's CPU, whose features are then an input of the action
        (@host_cpu, so that a shared cache never hands out code built for
        another CPU).
      **kwargs: passed to the cc_library (visibility, testonly, ...).
    """
    function_name = function_name or name
    adc = "//tools:adc"
    grad_cmd = ""
    if grad:
        grad_cmd = "$(location %s) grad $$g --of %s%s%s -o $(@D)/%s.grad.pb && g=$(@D)/%s.grad.pb && " % (
            adc,
            grad,
            " --wrt " + ",".join(wrt) if wrt else "",
            " --seed " + seed if seed else "",
            name,
            name,
        )
    native.genrule(
        name = name + "_aot",
        srcs = ["@host_cpu//:cpu.txt"] if target == "host" else [],
        outs = [name + ".a", name + ".h"],
        tools = [adc, graph],
        cmd = (
            "g=$(@D)/%s.graph.pb && " % name +
            "case $(location %s) in " % graph +
            "*.pb|*.pbtxt) g=$(location %s) ;; " % graph +
            "*) $(location %s) $$g ;; esac && " % graph +
            grad_cmd +
            "$(location %s) compile $$g -o $(@D)/%s.a --function %s --target %s" % (
                adc,
                name,
                function_name,
                target,
            )
        ),
        testonly = kwargs.get("testonly", False),
    )
    native.cc_import(
        name = name + "_import",
        static_library = name + ".a",
        hdrs = [name + ".h"],
        testonly = kwargs.get("testonly", False),
    )
    native.cc_library(
        name = name,
        hdrs = [name + ".h"],
        deps = [name + "_import"],
        linkopts = ["-ldl", "-lpthread", "-lm"],
        **kwargs
    )
