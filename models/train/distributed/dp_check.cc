// The data-parallel checks that need several processes (distributed_test.sh
// runs them under mpirun): an MLP on the digits trained for --steps steps
// with the global batch split across the workers, then
//   - every worker holds the same bits (fingerprints compared);
//   - with --compare, rank 0 trains one process accumulating the
//     workers' micro-batches (the same shards, summed in the same order)
//     from the same start and requires the same bits (with one micro-batch
//     per worker; else f32 rounding), and (from the start
//     only) the fused training step on the whole batch, within f32
//     rounding;
//   - with --expect_equal=CKPT, the final values equal that checkpoint's.
// Faults for the tests: --exit_at_step / --hang_at_step on --fault_rank.
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/serialize.h"
#include "models/train/data_parallel.h"
#include "models/train/datasets.h"
#include "models/train/distributed/mpi.h"
#include "models/train/layers.h"
#include "models/train/optimizers.h"
#include "models/train/trainer.h"

ABSL_FLAG(std::string, optimizer, "sgd", "sgd (momentum 0.9) or adam");
ABSL_FLAG(int64_t, steps, 6, "Steps to train (counted from step 0).");
ABSL_FLAG(int64_t, global_batch, 48, "Examples per step, all workers.");
ABSL_FLAG(int64_t, micro_batches, 1, "Micro-batches per worker and step.");
ABSL_FLAG(int64_t, bucket_bytes, 4096, "Gradient bytes per bucket.");
ABSL_FLAG(double, comm_timeout, 300, "Seconds to wait for a bucket's sums.");
ABSL_FLAG(std::string, work_dir, "", "Artifacts go to WORK_DIR/rank<r>.");
ABSL_FLAG(std::string, checkpoint, "", "Checkpoint file.");
ABSL_FLAG(int64_t, checkpoint_every, 0, "Save every N steps (0: never).");
ABSL_FLAG(std::string, resume, "", "Start from this checkpoint.");
ABSL_FLAG(std::string, out, "", "Save the final values here.");
ABSL_FLAG(bool, compare, false, "Check against one process (see above).");
ABSL_FLAG(std::string, expect_equal, "",
          "Require the final values to equal this checkpoint's.");
ABSL_FLAG(int64_t, exit_at_step, -1, "Fault: exit(1) before this step.");
ABSL_FLAG(int64_t, hang_at_step, -1, "Fault: stop responding at this step.");
ABSL_FLAG(int, fault_rank, 1, "The worker that fails.");
ABSL_FLAG(std::string, data, "digits",
          "digits (MLP 64-H-10) or fashion (Fashion-MNIST, MLP 784-H-10).");
ABSL_FLAG(std::vector<std::string>, hidden, {"32"}, "The MLP's hidden sizes.");
ABSL_FLAG(bool, time_fused, false,
          "With one worker: also time the fused training step on the whole "
          "batch (the one-process Trainer).");

namespace adc::train {
namespace {

int64_t Features() { return absl::GetFlag(FLAGS_data) == "fashion" ? 784 : 64; }

Graph Model(int64_t batch) {
  std::vector<int64_t> hidden;
  for (const std::string& h : absl::GetFlag(FLAGS_hidden)) {
    hidden.push_back(std::atoll(h.c_str()));
  }
  absl::StatusOr<Graph> g =
      Mlp("mlp", Features(), hidden, 10, batch, /*seed=*/3, true);
  if (!g.ok()) {
    std::fprintf(stderr, "dp_check: %s\n", g.status().ToString().c_str());
    std::exit(1);
  }
  return *g;
}

Optimizer TheOptimizer() {
  return absl::GetFlag(FLAGS_optimizer) == "adam" ? Optimizer::Adam(0.01)
                                                  : Optimizer::Sgd(0.1, 0.9);
}

uint64_t FingerprintOf(const std::map<std::string, rt::ConstBuffer>& values) {
  uLong crc = 0;
  for (const auto& [name, b] : values) {
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(b.data), b.size_bytes);
  }
  return crc;
}

// The first difference between two sets of values, "" if none; with
// `tolerance` > 0, differences up to tolerance x the largest magnitude of
// the value are allowed and the largest relative difference is reported.
std::string Difference(const std::map<std::string, rt::ConstBuffer>& a,
                       const std::map<std::string, rt::ConstBuffer>& b,
                       double tolerance, double* max_relative) {
  for (const auto& [name, x] : a) {
    auto it = b.find(name);
    if (it == b.end()) continue;  // adam.step is kept apart.
    const rt::ConstBuffer& y = it->second;
    if (x.size_bytes != y.size_bytes) return name + ": sizes differ";
    if (tolerance == 0) {
      if (std::memcmp(x.data, y.data, x.size_bytes) != 0) {
        return name + ": the bits differ";
      }
      continue;
    }
    if (x.dtype != rt::DType::kF32) continue;
    const float* p = static_cast<const float*>(x.data);
    const float* q = static_cast<const float*>(y.data);
    const size_t n = x.size_bytes / sizeof(float);
    double scale = 0;
    for (size_t i = 0; i < n; ++i)
      scale = std::max<double>(scale, std::fabs(q[i]));
    for (size_t i = 0; i < n; ++i) {
      const double d = std::fabs(p[i] - q[i]) / std::max(scale, 1e-30);
      *max_relative = std::max(*max_relative, d);
      if (d > tolerance) {
        return absl::StrFormat("%s[%d]: %g against %g (relative %g > %g)", name,
                               i, p[i], q[i], d, tolerance);
      }
    }
  }
  return "";
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "dp_check: %s\n", what.c_str());
  return 1;
}

int Run(MpiCommunicator* comm) {
  const int rank = comm->rank(), workers = comm->size();
  const int64_t micro = absl::GetFlag(FLAGS_micro_batches);
  const int64_t global = absl::GetFlag(FLAGS_global_batch);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  const std::string work =
      absl::GetFlag(FLAGS_work_dir).empty()
          ? std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR")
                                                   : "/tmp")
          : absl::GetFlag(FLAGS_work_dir);
  absl::StatusOr<Dataset> digits = absl::GetFlag(FLAGS_data) == "fashion"
                                       ? LoadFashionMnist("train")
                                       : LoadDigits();
  if (!digits.ok()) return Fail(digits.status().ToString());
  digits->shape = {Features()};  // Images as rows, for the MLP.
  if (global % (workers * micro) != 0) {
    return Fail(absl::StrCat("--global_batch=", global,
                             " is not a multiple "
                             "of workers x micro-batches"));
  }
  DataParallelOptions options;
  options.micro_batches = micro;
  options.bucket_bytes = absl::GetFlag(FLAGS_bucket_bytes);
  options.comm_timeout_seconds = absl::GetFlag(FLAGS_comm_timeout);
  options.num_threads = comm->ThreadsPerWorker();
  const Optimizer opt = TheOptimizer();
  auto trainer = DataParallelTrainer::Create(
      Model(global / (workers * micro)), "loss", opt, comm,
      absl::StrCat(work, "/rank", rank), options);
  if (!trainer.ok()) return Fail(trainer.status().ToString());
  DataParallelTrainer& t = **trainer;
  const std::string resume = absl::GetFlag(FLAGS_resume);
  if (!resume.empty()) {
    if (absl::Status s = t.Restore(resume); !s.ok()) return Fail(s.ToString());
  }
  DataParallelRun run;
  run.global_batch = global;
  run.steps = steps;
  run.order_seed = 11;
  run.checkpoint = absl::GetFlag(FLAGS_checkpoint);
  run.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  run.before_step = [rank](int64_t s) {
    if (rank != absl::GetFlag(FLAGS_fault_rank)) return;
    if (s == absl::GetFlag(FLAGS_exit_at_step)) {
      std::fprintf(stderr,
                   "dp_check: worker %d exits before step %lld "
                   "(fault injected)\n",
                   rank, static_cast<long long>(s + 1));
      std::_Exit(1);
    }
    if (s == absl::GetFlag(FLAGS_hang_at_step)) {
      std::fprintf(stderr,
                   "dp_check: worker %d stops responding before "
                   "step %lld (fault injected)\n",
                   rank, static_cast<long long>(s + 1));
      while (true) pause();
    }
  };
  if (absl::Status s = RunDataParallel(t, *digits, run); !s.ok()) {
    return Fail(s.ToString());
  }
  PrintStepTimes(t);

  // Every worker holds the same bits.
  absl::StatusOr<std::vector<uint64_t>> prints =
      comm->AllGather(FingerprintOf(t.Values()));
  if (!prints.ok()) return Fail(prints.status().ToString());
  for (int r = 1; r < workers; ++r) {
    if ((*prints)[r] != (*prints)[0]) {
      return Fail(absl::StrCat("worker ", r,
                               "'s parameters differ from "
                               "worker 0's after ",
                               steps, " steps"));
    }
  }
  if (absl::GetFlag(FLAGS_time_fused) && workers == 1) {
    Graph fused = Model(global);
    absl::StatusOr<TrainStep> step = AddTrainStep(&fused, "loss", opt);
    if (!step.ok()) return Fail(step.status().ToString());
    auto whole = Trainer::Create(fused, *step, work + "/fused_timed.so");
    if (!whole.ok()) return Fail(whole.status().ToString());
    std::vector<int64_t> order(digits->num);
    std::iota(order.begin(), order.end(), 0);
    std::vector<float> x;
    std::vector<int64_t> y;
    Gather(*digits, order, 0, global, &x, &y);
    const std::map<std::string, rt::ConstBuffer> feeds = {
        {"x", rt::ConstBuffer::Of(x, {global, Features()})},
        {"y", rt::ConstBuffer::Of(y, {global})}};
    for (int warm = 0; warm < 3; ++warm) (void)(*whole)->Step(feeds);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s) {
      absl::StatusOr<double> loss = (*whole)->Step(feeds);
      if (!loss.ok()) return Fail(loss.status().ToString());
    }
    std::printf("the fused step (one artifact, no split): %.2f ms per step\n",
                1e3 *
                    std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count() /
                    steps);
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (!out.empty()) {
    if (absl::Status s = t.Save(out); !s.ok()) return Fail(s.ToString());
  }
  if (rank != 0) return 0;
  std::printf(
      "dp_check: %d workers, %lld steps (%s): every worker holds the "
      "same parameters\n",
      workers, static_cast<long long>(steps),
      absl::GetFlag(FLAGS_optimizer).c_str());

  if (absl::GetFlag(FLAGS_compare)) {
    // One process, one micro-batch per worker's micro-batch.
    DataParallelOptions one = options;
    one.micro_batches = workers * micro;
    one.num_threads = 0;
    auto single =
        DataParallelTrainer::Create(Model(global / (workers * micro)), "loss",
                                    opt, nullptr, work + "/single", one);
    if (!single.ok()) return Fail(single.status().ToString());
    if (!resume.empty()) {
      if (absl::Status s = (*single)->Restore(resume); !s.ok()) {
        return Fail(s.ToString());
      }
    }
    DataParallelRun quiet = run;
    quiet.checkpoint_every = 0;
    quiet.before_step = nullptr;
    quiet.quiet = true;
    if (absl::Status s = RunDataParallel(**single, *digits, quiet); !s.ok()) {
      return Fail(s.ToString());
    }
    // Bit for bit when each worker has one micro-batch; otherwise the
    // workers add their own micro-batches first ((g0 + g1) + (g2 + g3)
    // against ((g0 + g1) + g2) + g3): equal up to f32 rounding.
    const double tolerance = micro == 1 ? 0 : 1e-5;
    double worst = 0;
    const std::string diff =
        Difference(t.Values(), (*single)->Values(), tolerance, &worst);
    if (!diff.empty()) {
      return Fail(
          "the workers' parameters differ from one process "
          "accumulating the same micro-batches: " +
          diff);
    }
    if (micro == 1) {
      std::printf(
          "dp_check: bit-identical to one process accumulating %lld "
          "micro-batches\n",
          static_cast<long long>(workers));
    } else {
      std::printf(
          "dp_check: within %.0e of one process accumulating %lld "
          "micro-batches (largest difference %.2e)\n",
          tolerance, static_cast<long long>(workers * micro), worst);
    }
    if (resume.empty()) {
      // The fused step on the whole batch, in the same order.
      Graph fused = Model(global);
      absl::StatusOr<TrainStep> step = AddTrainStep(&fused, "loss", opt);
      if (!step.ok()) return Fail(step.status().ToString());
      auto whole = Trainer::Create(fused, *step, work + "/fused.so");
      if (!whole.ok()) return Fail(whole.status().ToString());
      std::vector<int64_t> order(digits->num);
      std::iota(order.begin(), order.end(), 0);
      std::vector<float> x;
      std::vector<int64_t> y;
      const int64_t per_epoch = StepsPerEpoch(*digits, global);
      for (int64_t s = 0; s < steps; ++s) {
        if (s % per_epoch == 0) {
          std::iota(order.begin(), order.end(), 0);
          std::mt19937 rng(run.order_seed +
                           static_cast<uint32_t>(s / per_epoch));
          std::shuffle(order.begin(), order.end(), rng);
        }
        Gather(*digits, order, (s % per_epoch) * global, global, &x, &y);
        absl::StatusOr<double> loss =
            (*whole)->Step({{"x", rt::ConstBuffer::Of(x, {global, Features()})},
                            {"y", rt::ConstBuffer::Of(y, {global})}});
        if (!loss.ok()) return Fail(loss.status().ToString());
      }
      constexpr double kTolerance = 1e-4;
      double worst = 0;
      const std::string near =
          Difference(t.Values(), (*whole)->Values(), kTolerance, &worst);
      if (!near.empty()) {
        return Fail(
            "the workers' parameters are not those of the fused "
            "step on the whole batch: " +
            near);
      }
      std::printf(
          "dp_check: within %.1e of the fused step on the whole "
          "batch (largest difference %.2e of the value's scale)\n",
          kTolerance, worst);
    }
  }
  const std::string expected = absl::GetFlag(FLAGS_expect_equal);
  if (!expected.empty()) {
    auto other =
        DataParallelTrainer::Create(Model(global / (workers * micro)), "loss",
                                    opt, nullptr, work + "/expected", options);
    if (!other.ok()) return Fail(other.status().ToString());
    if (absl::Status s = (*other)->Restore(expected); !s.ok()) {
      return Fail(s.ToString());
    }
    double ignored = 0;
    const std::string diff =
        Difference(t.Values(), (*other)->Values(), 0, &ignored);
    if (!diff.empty() || (*other)->steps() != t.steps()) {
      return Fail(absl::StrCat("the final values differ from '", expected,
                               "': ", diff.empty() ? "step count" : diff));
    }
    std::printf("dp_check: the same bits as '%s'\n", expected.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace adc::train

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!adc::train::MpiCommunicator::Launched()) {
    std::fprintf(stderr, "dp_check: run it with mpirun\n");
    return 2;
  }
  auto comm = adc::train::MpiCommunicator::Init(&argc, &argv);
  if (!comm.ok()) {
    std::fprintf(stderr, "dp_check: %s\n", comm.status().ToString().c_str());
    return 1;
  }
  const int rc = adc::train::Run(comm->get());
  if (rc != 0) (*comm)->Abort("dp_check failed");
  return 0;
}
