#!/bin/bash
# End-to-end tests of the adc command line:
#   adc_test.sh ADC TESTDATA_DIR MLP.onnx
#
# The test graph tools/testdata/x1x2.pbtxt is y = x1 * x2 - sin(x2) with f32
# scalar inputs. The .npy files in testdata/ were written by numpy.save, so
# byte comparisons with them also check that adc writes what numpy writes.
set -u

ADC="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
DATA="$(cd "$2" && pwd)"
MLP="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
T="${TEST_TMPDIR:-$(mktemp -d)}/adc_test"
rm -rf "$T" && mkdir -p "$T/work" && cd "$T/work" || exit 1
GRAPH="$DATA/x1x2.pbtxt"

failures=0
passes=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { passes=$((passes + 1)); }

# expect_ok CMD...: exit 0; stdout in $T/stdout, stderr in $T/stderr.
expect_ok() {
  if "$@" >"$T/stdout" 2>"$T/stderr"; then
    pass
  else
    fail "exit $? from: $* ($(cat "$T/stderr"))"
  fi
}

# expect_error SUBSTRING CMD...: non-zero exit and exactly one stderr line
# containing SUBSTRING.
expect_error() {
  local want="$1"
  shift
  if "$@" >"$T/stdout" 2>"$T/stderr"; then
    fail "succeeded but should fail: $*"
    return
  fi
  local lines
  lines=$(wc -l <"$T/stderr")
  if [ "$lines" -ne 1 ]; then
    fail "stderr has $lines lines (want 1) for: $*: $(cat "$T/stderr")"
  elif ! grep -qF -- "$want" "$T/stderr"; then
    fail "stderr of '$*' lacks '$want': $(cat "$T/stderr")"
  else
    pass
  fi
}

# expect_contains FILE STRING...
expect_contains() {
  local file="$1"
  shift
  for s in "$@"; do
    if grep -qF -- "$s" "$file"; then pass; else fail "$file lacks '$s'"; fi
  done
}

# expect_same FILE EXPECTED
expect_same() {
  if cmp -s "$1" "$2"; then pass; else fail "$1 differs from $2"; fi
}

# --- help -------------------------------------------------------------------
expect_ok "$ADC" help
expect_contains "$T/stdout" grad jvp vmap jacobian hessian hvp gradcheck \
  compile run import inspect dot opt bench
expect_ok "$ADC" grad --help
expect_contains "$T/stdout" "usage: adc grad IN.pb --of NAME" "--wrt" "--seed" \
  "--no-allow-unused" "-o OUT.pb"
if grep -qF -- "--reps" "$T/stdout"; then fail "grad --help lists --reps"; fi
expect_ok "$ADC" help run
expect_contains "$T/stdout" "--interpret" "--out-dir" "--in NAME=FILE.npy"
for cmd in grad jvp vmap jacobian hessian hvp gradcheck compile run import \
  inspect dot opt bench; do
  expect_ok "$ADC" "$cmd" --help
  expect_contains "$T/stdout" "usage: adc $cmd"
done

# --- grad ---------------------------------------------------------------------
expect_ok "$ADC" grad "$GRAPH" --of y -o g.pbtxt
[ "$(cat "$T/stdout")" = $'x1.grad\nx2.grad' ] && pass ||
  fail "grad printed '$(cat "$T/stdout")'"
expect_ok "$ADC" grad "$GRAPH" --of y --wrt x2 -o g.pb
[ "$(cat "$T/stdout")" = "x2.grad" ] && pass || fail "grad --wrt x2 printed '$(cat "$T/stdout")'"
# A second application: grad of grad.
expect_ok "$ADC" grad g.pbtxt --of x1.grad --wrt x2 -o gg.pb
[ "$(cat "$T/stdout")" = "x2.grad2" ] && pass || fail "second grad printed '$(cat "$T/stdout")'"

# --- inspect ------------------------------------------------------------------
expect_ok "$ADC" inspect g.pbtxt
expect_contains "$T/stdout" "graph x1x2" "format version 1" "inputs (2)" \
  "parameters (0, 0 elements)" "outputs (3)" "gradient (level 1)" \
  "grad levels (2)" "forward" "autodiff #1"
grep -qE '^  y +f32\[\] += sub$' "$T/stdout" && pass || fail "inspect: y row"
grep -qE '^  sin +1$' "$T/stdout" && pass || fail "inspect: op count of sin"
expect_ok "$ADC" inspect gg.pb
expect_contains "$T/stdout" "x2.grad2" "autodiff #2"
expect_ok "$ADC" inspect --plan g.pbtxt
grep -qE "^fusion plan: .* materialized in 1 stage" "$T/stdout" && pass ||
  fail "inspect --plan: summary"
grep -qE "^stage 0: 'sub' \(sub\): output$" "$T/stdout" && pass ||
  fail "inspect --plan: the output's line"

# --- dot ----------------------------------------------------------------------
expect_ok "$ADC" dot g.pbtxt -o g.dot
expect_contains g.dot "digraph \"x1x2\"" "subgraph cluster_grad1" \
  'label="x1\ninput\nf32[]", fillcolor="lightblue"' \
  'label="y\noutput\nf32[]", fillcolor="darkolivegreen1"' \
  'label="x1.grad\noutput\nf32[]", fillcolor="orange"' \
  'fillcolor="moccasin"'
if command -v dot >/dev/null; then
  expect_ok "$ADC" dot g.pbtxt -o g.svg
  expect_contains g.svg "<svg" "x1.grad"
fi
# Without Graphviz on PATH: one clear error.
expect_error "Graphviz 'dot' was not found" env PATH=/nonexistent "$ADC" dot \
  g.pbtxt -o nodot.svg
expect_error "must end in .dot" "$ADC" dot g.pbtxt -o g.txt

# --- run --interpret ------------------------------------------------------------
# x1 = 2, x2 = 0: y = 0, dy/dx1 = x2 = 0, dy/dx2 = x1 - cos(x2) = 1 (exact).
expect_ok "$ADC" run --interpret g.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy" --out-dir out
expect_same out/y.npy "$DATA/expected_y.npy"
expect_same out/x1.grad.npy "$DATA/expected_x1_grad.npy"
expect_same out/x2.grad.npy "$DATA/expected_x2_grad.npy"
expect_contains "$T/stdout" "y f32[] -> out/y.npy"
# --in=NAME=FILE and comma-joined feeds; the default out dir is the cwd.
mkdir -p cwd && (cd cwd && "$ADC" run ../g.pb --interpret \
  --in="x1=$DATA/x1.npy,x2=$DATA/x2.npy" >/dev/null 2>&1) && pass ||
  fail "run with joined --in"
expect_same cwd/x2.grad.npy "$DATA/expected_x2_grad.npy"
# '/' in an output name becomes '_'.
sed 's|outputs { name: "y" value: "sub" }|&\noutputs { name: "a/b" value: "mul" }|' \
  "$GRAPH" >slash.pbtxt
expect_ok "$ADC" run --interpret slash.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy" --out-dir slash
[ -f slash/a_b.npy ] && pass || fail "no slash/a_b.npy"

# --- limits on input files (every command) -------------------------------------
expect_error "more than the limit of 10 (GraphLimits::max_file_bytes, adc --max_graph_bytes)" \
  "$ADC" inspect g.pbtxt --max-graph-bytes 10
expect_error "nodes, more than the limit of 1 (GraphLimits::max_nodes" \
  "$ADC" run --interpret g.pbtxt --max_graph_nodes=1 --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy"
expect_error "--in x1: " "$ADC" run --interpret g.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy" --max-npy-header-bytes 16
expect_error "invalid value 'lots' for --max-graph-nodes (expected an integer)" \
  "$ADC" inspect g.pbtxt --max-graph-nodes lots
expect_ok "$ADC" inspect --help
expect_contains "$T/stdout" "limits on input files (every command):" \
  "--max-graph-bytes N" "--max-npy-header-bytes N"

# --- jvp (forward mode) ---------------------------------------------------------
# Along t = (1, 1) at x1 = 2, x2 = 0: dy = x2 * 1 + (x1 - cos(x2)) * 1 = 1,
# the same bytes as dy/dx2.
expect_ok "$ADC" jvp "$GRAPH" --of y -o jvp.pbtxt
expect_contains "$T/stdout" "input  x1.tangent" "input  x2.tangent" \
  "output y.jvp"
expect_ok "$ADC" run --interpret jvp.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy" --in x1.tangent="$DATA/one.npy" \
  --in x2.tangent="$DATA/one.npy" --out-dir jvp_out
expect_same jvp_out/y.jvp.npy "$DATA/expected_x2_grad.npy"
if "$ADC" compile jvp.pbtxt -o jvp.so 2>"$T/stderr"; then
  expect_ok "$ADC" run jvp.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --in x1.tangent="$DATA/one.npy" --in x2.tangent="$DATA/one.npy" \
    --out-dir jvp_compiled
  expect_same jvp_compiled/y.jvp.npy "$DATA/expected_x2_grad.npy"
else
  fail "adc compile jvp.pbtxt: $(cat "$T/stderr")"
fi
# A named tangent, shared by both inputs: one direction for the two.
expect_ok "$ADC" jvp "$GRAPH" --of y --wrt x1,x2 --tangent t,t -o jvp_t.pbtxt
expect_contains "$T/stdout" "input  t"
expect_error "no value named 'nope'" "$ADC" jvp "$GRAPH" --of y --wrt nope \
  -o x.pb
expect_error "missing --of NAME" "$ADC" jvp "$GRAPH" -o x.pb
expect_error "2 names for 1 wrt" "$ADC" jvp "$GRAPH" --of y --wrt x1 \
  --tangent a,b -o x.pb

# --- vmap and batched seeds -------------------------------------------------------
# Two seeds [1, 2] in one call: dy/dx1 = x2 * v = [0, 0], dy/dx2 = (x1 -
# cos x2) * v = [1, 2]; y keeps its shape.
expect_ok "$ADC" grad "$GRAPH" --of y --seed v --batched 2 -o gb.pbtxt
expect_ok "$ADC" inspect gb.pbtxt
expect_contains "$T/stdout" "v  f32[2]" "y       f32[]" "x1.grad f32[2]"
expect_ok "$ADC" run --interpret gb.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2.npy" --in v="$DATA/seeds2.npy" --out-dir gb_out
expect_same gb_out/x1.grad.npy "$DATA/expected_x1_grad_batched.npy"
expect_same gb_out/x2.grad.npy "$DATA/expected_x2_grad_batched.npy"
if "$ADC" compile gb.pbtxt -o gb.so 2>"$T/stderr"; then
  expect_ok "$ADC" run gb.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --in v="$DATA/seeds2.npy" --out-dir gb_compiled
  expect_same gb_compiled/x2.grad.npy "$DATA/expected_x2_grad_batched.npy"
else
  fail "adc compile gb.pbtxt: $(cat "$T/stderr")"
fi
expect_error "--batched K needs K >= 1 and --seed NAME" "$ADC" grad "$GRAPH" \
  --of y --batched 2 -o x.pb
# vmap over x2 (2 instances: x2 = 1, 2): y = x1 * x2 - sin(x2).
expect_ok "$ADC" vmap "$GRAPH" --inputs x2 --size 2 -o v.pbtxt
expect_contains "$T/stdout" "y f32[2]"
expect_ok "$ADC" run --interpret v.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/seeds2.npy" --out-dir v_out
expect_same v_out/y.npy "$DATA/expected_y_vmap.npy"
expect_error "'nope'" "$ADC" vmap "$GRAPH" --inputs nope --size 2 -o x.pb
expect_error "missing --size K" "$ADC" vmap "$GRAPH" --inputs x1 -o x.pb

# --- jacobian, hessian, hvp -----------------------------------------------------
# At x1 = 2, x2 = 0: dy/dx1 = 0, dy/dx2 = 1, d2y/dx2^2 = sin(x2) = 0.
for mode in rev fwd auto; do
  expect_ok "$ADC" jacobian "$GRAPH" --of y --wrt x1,x2 --mode $mode \
    -o jac_$mode.pbtxt
  expect_contains "$T/stdout" "x1.jacobian f32[]" "x2.jacobian f32[]"
  expect_ok "$ADC" run --interpret jac_$mode.pbtxt --in x1="$DATA/x1.npy" \
    --in x2="$DATA/x2.npy" --out-dir jac_$mode
  expect_same jac_$mode/x1.jacobian.npy "$DATA/expected_x1_grad.npy"
  expect_same jac_$mode/x2.jacobian.npy "$DATA/expected_x2_grad.npy"
done
expect_ok "$ADC" hessian "$GRAPH" --of y --wrt x2 -o hess.pbtxt
expect_contains "$T/stdout" "x2.hessian f32[]"
expect_ok "$ADC" hvp "$GRAPH" --of y --wrt x2 -o hvp.pbtxt
expect_contains "$T/stdout" "input  x2.tangent" "output x2.hvp"
if "$ADC" compile hess.pbtxt -o hess.so 2>"$T/stderr" &&
  "$ADC" compile hvp.pbtxt -o hvp.so 2>"$T/stderr"; then
  expect_ok "$ADC" run hess.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --out-dir hess_out
  expect_same hess_out/x2.hessian.npy "$DATA/expected_x1_grad.npy"
  expect_ok "$ADC" run hvp.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --in x2.tangent="$DATA/one.npy" --out-dir hvp_out
  expect_same hvp_out/x2.hvp.npy "$DATA/expected_x1_grad.npy"
else
  fail "adc compile hess/hvp: $(cat "$T/stderr")"
fi
# At x2 = 0.5: d2y/dx2^2 = sin(0.5), by the Hessian and by H v with v = 1.
expect_ok "$ADC" run --interpret hess.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2_half.npy" --out-dir hess_half
expect_same hess_half/x2.hessian.npy "$DATA/expected_hessian_half.npy"
expect_ok "$ADC" run --interpret hvp.pbtxt --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2_half.npy" --in x2.tangent="$DATA/one.npy" \
  --out-dir hvp_half
expect_same hvp_half/x2.hvp.npy "$DATA/expected_hessian_half.npy"
# The README's examples.
expect_ok "$ADC" jacobian "$DATA/square.pbtxt" --of y -o readme_j.pbtxt
expect_contains "$T/stdout" "x.jacobian f64[3,3]"
expect_ok "$ADC" hessian "$DATA/cube_sin.pbtxt" --of f --wrt x -o readme_h.pbtxt
expect_contains "$T/stdout" "x.hessian f64[3,3]"
expect_ok "$ADC" hvp "$DATA/cube_sin.pbtxt" --of f --wrt x -o readme_hv.pbtxt
expect_contains "$T/stdout" "input  x.tangent" "output x.hvp"
expect_ok "$ADC" gradcheck "$DATA/cube_sin.pbtxt" --of f --order 2
# adc plot: sin and its derivative cos (gnuplot draws the picture).
expect_ok "$ADC" plot "$DATA/sin.pbtxt" --of y --wrt x --range -3.2:3.2 \
  --points 5 --data sin.tsv -o sin.svg
expect_contains "$T/stdout" "y' (d/dx)"
expect_contains sin.svg "<svg"
expect_contains sin.tsv "# x	y	y' (d/dx)" "0	0	1"
expect_error "expected A:B" "$ADC" plot "$DATA/sin.pbtxt" --of y --wrt x \
  --range 3 -o sin.svg
# Control flow: the tutorials' data-dependent loop (while norm(b) < 1000,
# then a cond) differentiated and run; dc/da = c/a element-wise, an exact
# power of 2 (times 100 on the else branch).
expect_ok "$ADC" grad "$DATA/tutorial_while.pbtxt" --of c --seed ones \
  -o tw.pbtxt
expect_contains "$T/stdout" "a.grad"
expect_ok "$ADC" inspect tw.pbtxt
expect_contains "$T/stdout" "format version 3" "while_loop" "cond"
for s in pos neg; do
  expect_ok "$ADC" run --interpret tw.pbtxt \
    --in a="$DATA/tutorial_a_$s.npy" --out-dir "tw_$s"
  expect_same "tw_$s/c.npy" "$DATA/tutorial_c_$s.npy"
  expect_same "tw_$s/a.grad.npy" "$DATA/tutorial_grad_$s.npy"
done
# The same gradient graph compiled: the loops and branch run in the
# artifact, with the same bytes as the interpreter.
expect_ok "$ADC" compile tw.pbtxt -o tw.so
for s in pos neg; do
  expect_ok "$ADC" run tw.so --in a="$DATA/tutorial_a_$s.npy" \
    --out-dir "twc_$s"
  expect_same "twc_$s/c.npy" "$DATA/tutorial_c_$s.npy"
  expect_same "twc_$s/a.grad.npy" "$DATA/tutorial_grad_$s.npy"
done
expect_ok "$ADC" gradcheck "$DATA/tutorial_while.pbtxt" --of c --order 2 \
  --in a="$DATA/tutorial_a_neg.npy"
expect_ok "$ADC" jvp "$DATA/tutorial_while.pbtxt" --of c -o tw_jvp.pbtxt
expect_ok "$ADC" jacobian "$DATA/tutorial_while.pbtxt" --of c --wrt a \
  -o tw_jac.pbtxt
expect_ok "$ADC" run --interpret tw_jac.pbtxt \
  --in a="$DATA/tutorial_a_neg.npy" --out-dir tw_jac
expect_same tw_jac/a.jacobian.npy "$DATA/tutorial_jacobian_neg.npy"
# Two instances in one graph: different trip counts and branches.
expect_ok "$ADC" vmap "$DATA/tutorial_while.pbtxt" --inputs a --size 2 \
  -o tw_vmap.pbtxt
expect_ok "$ADC" run --interpret tw_vmap.pbtxt \
  --in a="$DATA/tutorial_a_both.npy" --out-dir tw_vmap
expect_same tw_vmap/c.npy "$DATA/tutorial_c_both.npy"
expect_ok "$ADC" dot tw_jac.pbtxt -o tw_jac.dot
expect_contains tw_jac.dot "while_loop" "cond"
expect_error "--mode must be rev, fwd or auto" "$ADC" jacobian "$GRAPH" \
  --of y --mode sideways -o x.pb
expect_error "needs one --wrt X" "$ADC" hessian "$GRAPH" --of y -o x.pb
expect_error "needs one --wrt X" "$ADC" hvp "$GRAPH" --of y --wrt x1,x2 -o x.pb
sed 's|outputs { name: "y" value: "sub" }|&\nnodes { name: "v" op: "broadcast_to" inputs: "sub" attrs { key: "shape" value { ints { values: 2 } } } }\noutputs { name: "v" value: "v" }|' \
  "$GRAPH" >vec.pbtxt
expect_error "'v' must be a scalar" "$ADC" hessian vec.pbtxt --of v --wrt x1 \
  -o x.pb

# --- a custom gradient from a graph file (functions, format version 2) --------
CUSTOM="$DATA/custom_vjp.pbtxt"
expect_ok "$ADC" inspect "$CUSTOM"
expect_contains "$T/stdout" "format version 2" "custom_vjp 1" "functions (2)" \
  "softplus.forward (f32[3]) -> (f32[3])" \
  "softplus.vjp     (f32[3], f32[3], f32[3]) -> (f32[3])"
expect_ok "$ADC" grad "$CUSTOM" --of f -o custom_g.pbtxt
expect_ok "$ADC" gradcheck custom_g.pbtxt --of f
expect_ok "$ADC" gradcheck "$CUSTOM" --of f --order 2
expect_ok "$ADC" jacobian "$CUSTOM" --of sp --wrt x -o custom_j.pbtxt
expect_contains "$T/stdout" "x.jacobian f32[3,3]"
expect_ok "$ADC" vmap custom_g.pbtxt --inputs x --size 2 -o custom_v.pbtxt
expect_contains "$T/stdout" "x.grad f32[2,3]"
if "$ADC" compile custom_g.pbtxt -o custom_g.so 2>"$T/stderr"; then
  pass
else
  fail "adc compile custom_g.pbtxt: $(cat "$T/stderr")"
fi
sed 's|s: "softplus.vjp"|s: "nope"|' "$CUSTOM" >bad_custom.pbtxt
expect_error "vjp function 'nope' is not in the library" "$ADC" inspect \
  bad_custom.pbtxt

# --- compile, run, inspect and bench an artifact ------------------------------
if "$ADC" compile g.pbtxt -o g.so 2>"$T/stderr"; then
  pass
  expect_ok "$ADC" run g.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --out-dir compiled --threads 1
  expect_same compiled/y.npy "$DATA/expected_y.npy"
  expect_same compiled/x1.grad.npy "$DATA/expected_x1_grad.npy"
  expect_same compiled/x2.grad.npy "$DATA/expected_x2_grad.npy"
  expect_ok "$ADC" inspect g.so
  expect_contains "$T/stdout" "artifact g.so" "graph x1x2" "target " \
    "abi version" "inputs (2)" "outputs (3)" "gradient" \
    "peak intermediate memory"
  expect_ok "$ADC" bench g.so --reps 5 --in x1="$DATA/x1.npy"
  tail -n 1 "$T/stdout" | grep -qE '^median_ms=[0-9]+\.[0-9]+ min_ms=[0-9]+\.[0-9]+ reps=5$' &&
    pass || fail "bench last line: $(tail -n 1 "$T/stdout")"
  # Three f32 scalar outputs; intermediates fit in registers or a few bytes.
  tail -n 2 "$T/stdout" | head -n 1 | grep -qE '^peak_intermediate_bytes=[0-9]+ output_bytes=12$' &&
    pass || fail "bench peak line: $(tail -n 2 "$T/stdout" | head -n 1)"
  expect_error "no value for input x2" "$ADC" run g.so --in x1="$DATA/x1.npy"
  expect_error "holds f32[3] but input 'x2' is f32[]" "$ADC" run g.so \
    --in x1="$DATA/x1.npy" --in x2="$DATA/x2_vec.npy"
  expect_error "--reps must be at least 1" "$ADC" bench g.so --reps 0
  # Scheduled by one of Halide's autoschedulers: the same values.
  expect_ok "$ADC" compile g.pbtxt -o g_li.so --schedule li2018
  expect_ok "$ADC" run g_li.so --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" \
    --out-dir compiled_li
  expect_same compiled_li/y.npy "$DATA/expected_y.npy"
  expect_same compiled_li/x2.grad.npy "$DATA/expected_x2_grad.npy"
  expect_error "unknown schedule 'fast'; expected one of: default, adams2019" \
    "$ADC" compile g.pbtxt -o g_bad.so --schedule fast
  expect_error "this looks like a graph" "$ADC" run g.pbtxt \
    --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy"
else
  fail "adc compile: $(cat "$T/stderr")"
fi

# --- control flow (format version 3): compiled equals interpreted -------------
LOOP="$DATA/while_loop.pbtxt"
expect_ok "$ADC" inspect --plan "$LOOP"
expect_contains "$T/stdout" "format version 3" "while_loop 1" "functions (4)" \
  "'grow' (while_loop): control flow" "function 'grow.body'"
if "$ADC" compile "$LOOP" -o loop.so 2>"$T/stderr"; then
  pass
  expect_ok "$ADC" run loop.so --in x="$DATA/x1.npy" --out-dir loop_c
  expect_ok "$ADC" run --interpret "$LOOP" --in x="$DATA/x1.npy" \
    --out-dir loop_i
  expect_same loop_c/y.npy loop_i/y.npy
  # 0 never grows: the loop would not end.
  expect_error "while_loop 'grow' exceeded max_iterations = 10" "$ADC" run \
    loop.so --in x="$DATA/x2.npy" --out-dir loop_c
else
  fail "adc compile $LOOP: $(cat "$T/stderr")"
fi

# --- import (a small PyTorch MLP exported to ONNX), then grad and bench -------
expect_ok "$ADC" import "$MLP" -o mlp.pb
expect_ok "$ADC" inspect mlp.pb
expect_contains "$T/stdout" "inputs (1)" "x f32[4,4]" "fc1.weight f32[8,4] 32 elements" \
  "log_probs f32[4,3]"
expect_error "grad can be implicitly created only for scalar outputs" "$ADC" \
  grad mlp.pb --of log_probs -o mlp_grad.pb
expect_ok "$ADC" grad mlp.pb --of log_probs --seed ones --wrt fc1.weight,x \
  -o mlp_grad.pb
[ "$(cat "$T/stdout")" = $'fc1.weight.grad\nx.grad' ] && pass ||
  fail "mlp grad printed '$(cat "$T/stdout")'"
expect_ok "$ADC" dot mlp_grad.pb -o mlp.dot
expect_contains mlp.dot 'fillcolor="thistle"' "cluster_grad1"
if "$ADC" compile mlp_grad.pb -o mlp.so 2>"$T/stderr"; then
  pass
  # Parameters use their stored values, x is random.
  expect_ok "$ADC" bench mlp.so --reps 3
  expect_contains "$T/stdout" "input x f32[4,4]: random" "reps=3"
else
  fail "adc compile mlp: $(cat "$T/stderr")"
fi
expect_error "not an ONNX model" "$ADC" import "$DATA/x1.npy" -o x.pb

# --- gradcheck: derivatives against finite differences (f64) ------------------
# expect_exit CODE CMD...: exactly exit CODE; stdout/stderr in $T/stdout, $T/stderr.
expect_exit() {
  local want="$1"
  shift
  "$@" >"$T/stdout" 2>"$T/stderr"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass; else
    fail "exit $rc (want $want) from: $* ($(cat "$T/stderr"))"
  fi
}
# The f32 graph is promoted to f64; random inputs, reported per wrt.
expect_ok "$ADC" gradcheck "$GRAPH" --of y
expect_contains "$T/stdout" "input x1 f64[]: random in [-1, 1]" \
  "input x2 f64[]: random in [-1, 1]" "x1  worst x1  analytic=" \
  "x2  worst x2  analytic=" "gradcheck: passed (2 wrt, 2 elements; order 1, eps=1e-06 atol=1e-05 rtol=0.001)"
[ "$(grep -c ' ok$' "$T/stdout")" -eq 2 ] && pass || fail "gradcheck: 2 ok lines"
# Given inputs, f32 (x1 = 2) and f64 (x2 = 0): dy/dx1 = x2 = 0, dy/dx2 =
# x1 - cos(x2) = 1.
expect_ok "$ADC" gradcheck "$GRAPH" --of y --in x1="$DATA/x1.npy" \
  --in x2="$DATA/x2_f64.npy" --wrt x2,x1
expect_contains "$T/stdout" "x2  worst x2  analytic=1 numeric=1 " \
  "x1  worst x1  analytic=0 numeric=0 abs_err=0 rel_err=0  ok"
if grep -q "random" "$T/stdout"; then fail "gradcheck: given inputs are random"; fi
# Second order, on the graph and on its gradient graph.
expect_ok "$ADC" gradcheck "$GRAPH" --of y --order 2
expect_contains "$T/stdout" "gradcheck: passed (2 wrt, 2 elements; order 2"
expect_ok "$ADC" gradcheck g.pbtxt --of x2.grad --order 2 --eps 1e-5 \
  --atol 1e-6 --rtol 1e-4
expect_contains "$T/stdout" "eps=1e-05 atol=1e-06 rtol=0.0001)"
# The imported ONNX model (f32, non-scalar log_probs f32[4,3]), each seed mode.
expect_ok "$ADC" gradcheck mlp.pb --of log_probs
expect_contains "$T/stdout" "input x f64[4,4]: random in [-1, 1]" \
  "seed: random projection of log_probs f64[4,3] (weights in [0.5, 1.5])" \
  "fc1.weight  worst fc1.weight[" "fc3.bias    worst fc3.bias[" \
  "gradcheck: passed (7 wrt, 155 elements; order 1"
expect_ok "$ADC" gradcheck mlp.pb --of log_probs --seed ones --wrt x,fc2.bias
expect_contains "$T/stdout" "seed: ones" "gradcheck: passed (2 wrt, 24 elements"
grep -E '^(x|fc2)' "$T/stdout" >ones.txt
expect_ok "$ADC" gradcheck mlp.pb --of log_probs --seed v --wrt x,fc2.bias
expect_contains "$T/stdout" "seed v f64[4,3]: random in [0.5, 1.5]" \
  "gradcheck: passed (2 wrt, 24 elements"
# --seed NAME fed with ones (an f32 file) checks what --seed ones checks.
cat >ones43.pbtxt <<'PBTXT'
version: 1
nodes { name: "c" op: "constant" attrs { key: "value" value { tensor {
  type { dtype: F32 shape { dims: 4 dims: 3 } }
  float_data: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] } } } }
outputs { name: "ones" value: "c" }
PBTXT
expect_ok "$ADC" run --interpret ones43.pbtxt --out-dir fixtures
expect_ok "$ADC" gradcheck mlp.pb --of log_probs --seed v --wrt x,fc2.bias \
  --in v=fixtures/ones.npy
if grep -q "^seed" "$T/stdout"; then fail "gradcheck: a fed seed is random"; fi
grep -E '^(x|fc2)' "$T/stdout" >fed.txt
cmp -s ones.txt fed.txt && pass || fail "gradcheck --seed v=ones differs from --seed ones"
expect_ok "$ADC" gradcheck mlp.pb --of log_probs --order 2 --wrt fc1.weight,x
expect_contains "$T/stdout" "gradcheck: passed (2 wrt, 48 elements; order 2"
# A graph that already carries a gradient and its seed input v.
expect_ok "$ADC" grad mlp.pb --of log_probs --seed v --wrt x -o mlp_vjp.pb
expect_ok "$ADC" gradcheck mlp_vjp.pb --of x.grad
expect_contains "$T/stdout" "input v f64[4,3]: random in [-1, 1]" \
  "v           worst v[" "gradcheck: passed (8 wrt, 167 elements; order 1"
# Autodiff fooled by stop_gradient: exit 1, the worst element, one stderr line.
SG="$DATA/stop_gradient.pbtxt"
expect_exit 1 "$ADC" gradcheck "$SG" --of y
expect_contains "$T/stdout" "analytic=0 numeric=" "rel_err=1  FAILED (3 of 3 elements)" \
  "gradcheck: FAILED: 3 of 3 elements differ from finite differences (x 3 of 3; order 1"
[ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -qF \
  "adc gradcheck: gradients of 'y' differ from finite differences: x (3 of 3 elements)" \
  "$T/stderr" && pass || fail "gradcheck FAILED stderr: $(cat "$T/stderr")"
# Right first derivative, wrong second one.
expect_ok "$ADC" gradcheck "$SG" --of st
expect_exit 1 "$ADC" gradcheck "$SG" --of st --order 2
expect_contains "$T/stderr" "second derivatives of 'st' differ"
# A loose enough tolerance passes.
expect_ok "$ADC" gradcheck "$SG" --of y --atol 10
# Integer inputs are never random: --in, else an error naming them.
cat >idx.pbtxt <<'PBTXT'
version: 1
nodes { name: "c" op: "constant" attrs { key: "value" value { tensor {
  type { dtype: I64 shape { dims: 3 } } int64_data: [4, 0, 4] } } } }
outputs { name: "idx" value: "c" }
PBTXT
expect_ok "$ADC" run --interpret idx.pbtxt --out-dir fixtures
expect_ok "$ADC" gradcheck "$DATA/gather.pbtxt" --of y \
  --in idx=fixtures/idx.npy
expect_contains "$T/stdout" "gradcheck: passed (1 wrt, 5 elements"
expect_exit 2 "$ADC" gradcheck "$DATA/gather.pbtxt" --of y
expect_error "input idx (i64[3]) needs a value: integer and bool inputs are not drawn at random" \
  "$ADC" gradcheck "$DATA/gather.pbtxt" --of y
[ -s "$T/stdout" ] && fail "gradcheck printed before an error" || pass
expect_error "wrt 'idx' is i64[3]: only floating-point values have gradients" \
  "$ADC" gradcheck "$DATA/gather.pbtxt" --of y --in idx=fixtures/idx.npy --wrt idx
# Usage and input errors.
expect_exit 2 "$ADC" gradcheck "$GRAPH"
expect_error "missing --of NAME" "$ADC" gradcheck "$GRAPH"
expect_error "--order must be 1 or 2, not 3" "$ADC" gradcheck "$GRAPH" --of y --order 3
expect_error "--eps must be a positive number" "$ADC" gradcheck "$GRAPH" --of y --eps 0
expect_error "invalid value 'abc' for --eps (expected a number)" "$ADC" \
  gradcheck "$GRAPH" --of y --eps abc
expect_error "--atol must be 0 or more" "$ADC" gradcheck "$GRAPH" --of y --atol -1
expect_error "no output or value named 'nope'" "$ADC" gradcheck "$GRAPH" --of nope
expect_error "wrt 'nope' is not an input or parameter" "$ADC" gradcheck \
  "$GRAPH" --of y --wrt nope
expect_error "holds f32[3] but input 'x2' is f32[]" "$ADC" gradcheck "$GRAPH" \
  --of y --in x2="$DATA/x2_vec.npy"
expect_error "no input or parameter named 'x3'" "$ADC" gradcheck "$GRAPH" \
  --of y --in x3="$DATA/x2.npy"
expect_error "cannot open 'missing.pb'" "$ADC" gradcheck missing.pb --of y
expect_error "unknown flag '--reps'" "$ADC" gradcheck "$GRAPH" --of y --reps 3

# --- opt ------------------------------------------------------------------------
expect_ok "$ADC" opt g.pbtxt -o opt.pbtxt
expect_contains "$T/stdout" "total: "
expect_ok "$ADC" inspect opt.pbtxt

# --- errors: non-zero exit, one line on stderr --------------------------------
expect_error "missing command" "$ADC"
expect_error "unknown command 'frobnicate'" "$ADC" frobnicate
expect_error "unknown flag '--frob'" "$ADC" grad "$GRAPH" --of y -o x.pb --frob
expect_error "unknown flag '--reps'" "$ADC" grad "$GRAPH" --of y -o x.pb --reps 3
expect_error "cannot open 'missing.pb'" "$ADC" grad missing.pb --of y -o x.pb
expect_error "cannot open 'missing.pbtxt'" "$ADC" inspect missing.pbtxt
expect_error "no output or value named 'nope'" "$ADC" grad "$GRAPH" --of nope -o x.pb
expect_error "missing --of" "$ADC" grad "$GRAPH" -o x.pb
expect_error "missing -o" "$ADC" grad "$GRAPH" --of y
expect_error "needs a value" "$ADC" grad "$GRAPH" -o x.pb --of
expect_error "missing IN.pb" "$ADC" grad --of y -o x.pb
expect_error "unexpected argument 'extra'" "$ADC" inspect "$GRAPH" extra
expect_error "invalid value 'abc' for --reps" "$ADC" bench g.so --reps abc
expect_error "no value for input x2" "$ADC" run --interpret g.pbtxt \
  --in x1="$DATA/x1.npy"
expect_error "--in x2: cannot open 'none.npy'" "$ADC" run --interpret g.pbtxt \
  --in x1="$DATA/x1.npy" --in x2=none.npy
expect_error "holds f32[3] but input 'x2' is f32[]" "$ADC" run --interpret \
  g.pbtxt --in x1="$DATA/x1.npy" --in x2="$DATA/x2_vec.npy"
expect_error "holds f64[] but input 'x2' is f32[]" "$ADC" run --interpret \
  g.pbtxt --in x1="$DATA/x1.npy" --in x2="$DATA/x2_f64.npy"
head -c 50 "$DATA/x1.npy" >truncated.npy
expect_error "--in x2: truncated.npy: not a valid .npy file" "$ADC" run \
  --interpret g.pbtxt --in x1="$DATA/x1.npy" --in x2=truncated.npy
expect_error "no input or parameter named 'x3'" "$ADC" run --interpret g.pbtxt \
  --in x1="$DATA/x1.npy" --in x2="$DATA/x2.npy" --in x3="$DATA/x2.npy"
expect_error "expected NAME=FILE.npy" "$ADC" run --interpret g.pbtxt --in x1
expect_error "is given twice" "$ADC" run --interpret g.pbtxt \
  --in x1="$DATA/x1.npy" --in x1="$DATA/x1.npy"
printf 'nodes { name: "a" op: "frob" }\n' >bad.pbtxt
expect_error "bad.pbtxt" "$ADC" grad bad.pbtxt --of a -o x.pb
expect_error "cannot open 'missing.onnx'" "$ADC" import missing.onnx -o x.pb

# --- numpy, when this machine has it: read adc's files, feed numpy's ----------
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c "import numpy" 2>/dev/null; then PY="$p" && break; fi
done
if [ -n "$PY" ]; then
  expect_ok "$ADC" run --interpret g.pbtxt --in x1="$DATA/x1.npy" \
    --in x2="$DATA/x2_half.npy" --out-dir half
  if "$PY" - half <<'EOF'; then pass; else fail "numpy check of run outputs"; fi
import sys
import numpy as np
d = sys.argv[1]
x1, x2 = np.float64(2), np.float64(0.5)
want = {"y": x1 * x2 - np.sin(x2), "x1.grad": x2, "x2.grad": x1 - np.cos(x2)}
for name, value in want.items():
    got = np.load(f"{d}/{name}.npy")
    assert got.dtype == np.float32 and got.shape == (), (name, got)
    assert abs(float(got) - value) < 1e-6, (name, float(got), value)
EOF
fi

echo "adc_test: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
