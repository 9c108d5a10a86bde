"""A fuzz target: the libFuzzer binary and its replay test.

adc_fuzz_target(name = "x_fuzzer", srcs = [...], deps = [...]) makes
  :x_fuzzer              the target; with --config=fuzz (clang) a libFuzzer
                         binary (tools/fuzz.sh runs it), otherwise linked
                         with replay_main.cc;
  :x_fuzzer_replay_test  runs it once on every file of corpus/x and
                         regressions/x (the suite's deterministic check).
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

def adc_fuzz_target(name, srcs, deps, data = []):
    short = name[:-len("_fuzzer")]
    cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        deps = deps + [":fuzz_check"],
        alwayslink = True,
    )
    native.filegroup(
        name = name + "_inputs",
        testonly = True,
        srcs = native.glob([
            "corpus/%s/**" % short,
            "regressions/%s/**" % short,
        ]),
    )
    cc_binary(
        name = name,
        testonly = True,
        data = data,
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = [":" + name + "_lib"] + select({
            ":fuzzing": [],
            "//conditions:default": [":replay_main"],
        }),
    )
    cc_test(
        name = name + "_replay_test",
        size = "small",
        args = ["$(locations :%s_inputs)" % name],
        data = data + [":" + name + "_inputs"],
        deps = [":" + name + "_lib", ":replay_main"],
    )
