"""host_cpu: the build machine's CPU features as a file, for cache keys.

`adc compile --target host` (the adc_library default) generates code for the
CPU it runs on, but Bazel keys cached outputs (including the --disk_cache
that a fresh clone shares) by their inputs only. adc_library therefore lists
@host_cpu//:cpu.txt (the CPU's model name and feature flags, read from
/proc/cpuinfo when the repository is fetched) as an input: on a machine with
other CPU features the key differs, and an artifact built for another CPU is
never reused.
"""

def _host_cpu_impl(ctx):
    text = ctx.read("/proc/cpuinfo") if ctx.path("/proc/cpuinfo").exists else ""
    lines = []
    for line in text.split("\n"):
        key = line.split(":")[0].strip()
        if key in ("vendor_id", "model name", "flags", "Features", "CPU part") and line not in lines:
            lines.append(line)
    ctx.file("cpu.txt", "\n".join(lines) + "\n")
    ctx.file("BUILD.bazel", 'exports_files(["cpu.txt"])\n')

host_cpu = repository_rule(
    implementation = _host_cpu_impl,
    local = True,
    doc = "Writes the host CPU's model and feature flags to cpu.txt.",
)
