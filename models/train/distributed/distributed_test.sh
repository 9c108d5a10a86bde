#!/bin/bash
# Data-parallel training under mpirun (dp_check.cc says what each run checks).
set -euo pipefail
check="$PWD/models/train/distributed/dp_check"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Shared memory between the processes of one machine; no network probing.
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() {
  local np=$1; shift
  mpirun -np "$np" "$check" --work_dir="$work/np$np" "$@"
}
fail() { echo "FAIL: $*" >&2; exit 1; }

# Equality with one process, SGD with momentum and Adam, 2 and 3 workers
# (one bucket per parameter: --bucket_bytes=1), and 2 micro-batches each.
for opt in sgd adam; do
  for np in 2 3; do
    echo "== $np workers, $opt"
    mpi "$np" --optimizer=$opt --steps=5 --compare --bucket_bytes=1 \
      | tee "$work/out" | grep -v '^\[' || true
    grep -q "bit-identical to one process accumulating $np micro-batches" \
      "$work/out" || fail "$np workers, $opt"
    grep -q "within 1.0e-04 of the fused step" "$work/out" \
      || fail "$np workers, $opt: fused"
  done
done
echo "== 2 workers x 2 micro-batches, adam"
mpi 2 --optimizer=adam --steps=4 --micro_batches=2 --compare > "$work/out"
grep -q "within 1e-05 of one process accumulating 4 micro-batches" \
  "$work/out" || fail "micro-batches"

# A worker that exits: the job stops with mpirun's error (which names the
# process), within a bounded time, and the checkpoint of step 4 survives.
echo "== worker 1 exits before step 6"
ckpt="$work/ckpt.pb"
start=$SECONDS
rc=0
timeout 120 mpirun -np 2 "$check" --work_dir="$work/f" --optimizer=adam \
  --steps=8 --checkpoint="$ckpt" --checkpoint_every=2 --exit_at_step=5 \
  > "$work/out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the run with a failing worker succeeded"
[ "$rc" != 124 ] || fail "the run with a failing worker hung"
cat "$work/out" | grep -v '^\['
grep -q "worker 1 exits before step 6" "$work/out" || fail "no fault message"
grep -q "exited with non-zero status" "$work/out" || fail "no mpirun message"
echo "stopped after $((SECONDS - start)) s"

# Resuming from the checkpoint gives the bits of the uninterrupted run.
echo "== uninterrupted, then resumed from step 4"
mpi 2 --optimizer=adam --steps=8 --out="$work/straight.pb" > /dev/null
mpi 2 --optimizer=adam --steps=8 --resume="$ckpt" \
  --expect_equal="$work/straight.pb" > "$work/out"
grep -q "the same bits as" "$work/out" || fail "resume"
# Another number of workers reads it too (and agrees with one process).
mpi 3 --optimizer=adam --steps=6 --resume="$ckpt" --compare > "$work/out"
grep -q "bit-identical to one process accumulating 3" "$work/out" \
  || fail "resume with 3 workers"

# A worker that hangs: the others give up on its sums after the timeout and
# stop the job, naming the step and the bucket.
echo "== worker 1 hangs before step 3 (timeout 5 s)"
start=$SECONDS
rc=0
timeout 120 mpirun -np 2 "$check" --work_dir="$work/h" --steps=6 \
  --hang_at_step=2 --comm_timeout=5 > "$work/out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the run with a hanging worker succeeded"
[ "$rc" != 124 ] || fail "the run with a hanging worker did not stop"
grep -v '^\[' "$work/out"
grep -q "step 3: the sum of bucket 0 of .* did not arrive within 5 s" \
  "$work/out" || fail "no timeout message"
elapsed=$((SECONDS - start))
echo "stopped after $elapsed s"
[ "$elapsed" -lt 60 ] || fail "the hang took $elapsed s to stop"
# The training program, data-parallel: one epoch of the digits.
echo "== mpirun -np 2 train_digits"
mpirun -np 2 "$PWD/models/train/train_digits" "$work/digits" 1 > "$work/out"
cat "$work/out"
grep -q "^2 workers" "$work/out" || fail "train_digits: no worker line"
grep -q "epoch 1: .*test accuracy" "$work/out" || fail "train_digits: no accuracy"
[ -s "$work/digits/digits_checkpoint.pb" ] || fail "train_digits: no checkpoint"
echo PASS
