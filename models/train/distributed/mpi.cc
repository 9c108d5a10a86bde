#include "models/train/distributed/mpi.h"

#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "models/train/trainer.h"

namespace adc::train {
namespace {

absl::Status Check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  return absl::UnavailableError(
      absl::StrCat(call, " failed: ", std::string(text, length)));
}

template <typename T>
void SumChunks(const unsigned char* recv, int workers, int64_t chunk,
               unsigned char* out) {
  const T* in = reinterpret_cast<const T*>(recv);
  T* sum = reinterpret_cast<T*>(out);
  std::copy(in, in + chunk, sum);
  for (int r = 1; r < workers; ++r) {
    const T* x = in + r * chunk;
    for (int64_t i = 0; i < chunk; ++i) sum[i] += x[i];
  }
}

}  // namespace

bool MpiCommunicator::Launched() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

absl::StatusOr<std::unique_ptr<MpiCommunicator>> MpiCommunicator::Init(
    int* argc, char*** argv) {
  int provided = 0;
  if (absl::Status s =
          Check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided),
                "MPI_Init_thread");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<MpiCommunicator> c(new MpiCommunicator());
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_MULTIPLE) {
    return absl::FailedPreconditionError(
        "this MPI library does not support MPI_THREAD_MULTIPLE, which the "
        "trainer's communication thread needs");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c->size_);
  MPI_Comm local;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank_,
                          MPI_INFO_NULL, &local) == MPI_SUCCESS) {
    MPI_Comm_rank(local, &c->local_rank_);
    MPI_Comm_size(local, &c->local_size_);
    MPI_Comm_free(&local);
  }
  return c;
}

MpiCommunicator::~MpiCommunicator() { MPI_Finalize(); }

int MpiCommunicator::ThreadsPerWorker() const {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < cores) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1, cores / local_size_);
}

absl::Status MpiCommunicator::Sum(void* data, rt::DType dtype, int64_t n) {
  if (dtype != rt::DType::kF32 && dtype != rt::DType::kF64) {
    return absl::InvalidArgumentError(
        absl::StrCat("Sum of ", rt::DTypeName(dtype), "; only f32 and f64"));
  }
  if (size_ == 1 || n == 0) return absl::OkStatus();
  const MPI_Datatype type = dtype == rt::DType::kF32 ? MPI_FLOAT : MPI_DOUBLE;
  const size_t width = rt::DTypeSize(dtype);
  const int64_t chunk = (n + size_ - 1) / size_;
  if (chunk > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("Sum of ", n,
                     " elements: more than INT_MAX per worker; use smaller "
                     "buckets"));
  }
  const size_t padded = chunk * size_ * width;
  send_.resize(padded);
  recv_.resize(padded);
  sum_.resize(chunk * width);
  std::memcpy(send_.data(), data, n * width);
  std::memset(send_.data() + n * width, 0, padded - n * width);
  const int count = static_cast<int>(chunk);
  if (absl::Status s =
          Check(MPI_Alltoall(send_.data(), count, type, recv_.data(), count,
                             type, MPI_COMM_WORLD),
                "MPI_Alltoall");
      !s.ok()) {
    return s;
  }
  if (dtype == rt::DType::kF32) {
    SumChunks<float>(recv_.data(), size_, chunk, sum_.data());
  } else {
    SumChunks<double>(recv_.data(), size_, chunk, sum_.data());
  }
  if (absl::Status s =
          Check(MPI_Allgather(sum_.data(), count, type, send_.data(), count,
                              type, MPI_COMM_WORLD),
                "MPI_Allgather");
      !s.ok()) {
    return s;
  }
  std::memcpy(data, send_.data(), n * width);
  return absl::OkStatus();
}

absl::Status MpiCommunicator::Broadcast(void* data, int64_t bytes, int root) {
  constexpr int64_t kPiece = int64_t{1} << 30;
  auto* p = static_cast<char*>(data);
  for (int64_t first = 0; first < bytes; first += kPiece) {
    const int count = static_cast<int>(std::min(kPiece, bytes - first));
    if (absl::Status s =
            Check(MPI_Bcast(p + first, count, MPI_BYTE, root, MPI_COMM_WORLD),
                  "MPI_Bcast");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> MpiCommunicator::AllGather(
    uint64_t value) {
  std::vector<uint64_t> all(size_);
  if (absl::Status s = Check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(),
                                           1, MPI_UINT64_T, MPI_COMM_WORLD),
                             "MPI_Allgather");
      !s.ok()) {
    return s;
  }
  return all;
}

absl::Status MpiCommunicator::Barrier() {
  return Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void MpiCommunicator::Abort(const std::string& why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; in case it does.
}

int64_t StepsPerEpoch(const Dataset& data, int64_t global_batch) {
  return data.num / global_batch;
}

absl::Status RunDataParallel(DataParallelTrainer& trainer, const Dataset& data,
                             const DataParallelRun& run) {
  const int64_t workers = trainer.workers();
  const int64_t micro = trainer.micro_batches();
  const int64_t shards = workers * micro;
  if (run.global_batch <= 0 || run.global_batch % shards != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the global batch (", run.global_batch,
                     ") must be a positive "
                     "multiple of workers x micro-batches (",
                     workers, " x ", micro, ")"));
  }
  const int64_t per_epoch = run.steps_per_epoch > 0
                                ? run.steps_per_epoch
                                : StepsPerEpoch(data, run.global_batch);
  if (per_epoch == 0 || per_epoch > StepsPerEpoch(data, run.global_batch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the dataset has ", data.num, " examples, not ", per_epoch,
                     " global batches of ", run.global_batch));
  }
  const int64_t n = run.global_batch / shards;  // Per micro-batch.
  std::vector<int64_t> dims = {n};
  dims.insert(dims.end(), data.shape.begin(), data.shape.end());
  std::vector<int64_t> order(data.num);
  int64_t epoch = -1;
  std::vector<std::vector<float>> x(micro);
  std::vector<std::vector<int64_t>> y(micro);
  const bool lead = trainer.rank() == 0 && !run.quiet;
  Progress progress(run.steps - trainer.steps(), run.global_batch);
  const int64_t first_step = trainer.steps();
  for (int64_t s = first_step; s < run.steps; ++s) {
    if (s / per_epoch != epoch) {
      epoch = s / per_epoch;
      std::iota(order.begin(), order.end(), 0);
      std::mt19937 rng(run.order_seed + static_cast<uint32_t>(epoch));
      std::shuffle(order.begin(), order.end(), rng);
    }
    std::vector<std::map<std::string, rt::ConstBuffer>> feeds;
    for (int64_t m = 0; m < micro; ++m) {
      const int64_t shard = trainer.rank() * micro + m;
      Gather(data, order, (s % per_epoch) * run.global_batch + shard * n, n,
             &x[m], &y[m]);
      feeds.push_back({{"x", rt::ConstBuffer::Of(x[m], dims)},
                       {"y", rt::ConstBuffer::Of(y[m], {n})}});
    }
    if (run.before_step) run.before_step(s);
    absl::StatusOr<double> loss = trainer.Step(feeds);
    if (!loss.ok()) return loss.status();
    if (lead) progress.Update(s + 1 - first_step, *loss);
    if (trainer.rank() == 0) {
      if (run.loss_curve != nullptr) {
        run.loss_curve->x.push_back(s + 1);
        run.loss_curve->curves[0].push_back(*loss);
      }
    }
    if (run.checkpoint_every > 0 && (s + 1) % run.checkpoint_every == 0) {
      if (absl::Status saved = trainer.Save(run.checkpoint); !saved.ok()) {
        return saved;
      }
    }
  }
  if (lead) progress.Finish();
  return absl::OkStatus();
}

int RunDistributedProgram(int* argc, char*** argv, const std::string& out_dir,
                          const DistributedProgram& p) {
  const std::string name = p.label;
  auto fail = [&](const absl::Status& s) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), s.ToString().c_str());
    return 1;
  };
  absl::StatusOr<std::unique_ptr<MpiCommunicator>> comm =
      MpiCommunicator::Init(argc, argv);
  if (!comm.ok()) return fail(comm.status());
  MpiCommunicator& c = **comm;
  // Stop every worker on a failure (an error return would leave the
  // others waiting until mpirun sees this one exit).
  auto stop = [&](const absl::Status& s) -> int {
    c.Abort(absl::StrFormat("%s: worker %d: %s", name, c.rank(), s.ToString()));
  };
  const int64_t shards = c.size();
  if (p.global_batch % shards != 0) {
    return stop(absl::InvalidArgumentError(
        absl::StrCat("the global batch of ", p.global_batch,
                     " does not split into ", shards, " workers")));
  }
  absl::StatusOr<Graph> model = p.model(p.global_batch / shards);
  if (!model.ok()) return stop(model.status());
  DataParallelOptions options;
  options.num_threads =
      std::max<int>(1, static_cast<int>(std::thread::hardware_concurrency()) /
                           c.local_size());
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<DataParallelTrainer>> trainer =
      DataParallelTrainer::Create(
          *model, "loss", p.opt, &c,
          absl::StrCat(out_dir, "/", name, "_workers/rank", c.rank()), options);
  if (!trainer.ok()) return stop(trainer.status());
  DataParallelTrainer& t = **trainer;
  const bool lead = c.rank() == 0;
  if (lead) {
    std::printf(
        "%d workers (%d on this machine, %d threads each), global batch %lld "
        "(%lld per worker); compiled in %.1f s\n",
        c.size(), c.local_size(), options.num_threads,
        static_cast<long long>(p.global_batch),
        static_cast<long long>(p.global_batch / shards),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  PlotData curve = LossCurve(p.title);
  DataParallelRun run;
  run.global_batch = p.global_batch;
  run.order_seed = p.order_seed;
  run.steps_per_epoch =
      p.steps_per_epoch > 0
          ? std::min(p.steps_per_epoch, StepsPerEpoch(*p.data, p.global_batch))
          : StepsPerEpoch(*p.data, p.global_batch);
  run.loss_curve = &curve;
  const std::string checkpoint = out_dir + "/" + name + "_checkpoint.pb";
  for (int epoch = 0; epoch < p.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    run.steps = (epoch + 1) * run.steps_per_epoch;
    if (absl::Status s = RunDataParallel(t, *p.data, run); !s.ok()) {
      return stop(s);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (absl::Status s = t.Save(checkpoint); !s.ok()) return stop(s);
    if (lead) {
      absl::StatusOr<std::string> line = p.evaluate(t.Values());
      if (!line.ok()) return stop(line.status());
      std::printf("epoch %d: %.1f s (%lld steps of %lld), %s\n", epoch + 1,
                  seconds, static_cast<long long>(run.steps_per_epoch),
                  static_cast<long long>(p.global_batch), line->c_str());
    }
  }
  PrintStepTimes(t);
  if (lead) {
    std::printf("checkpoint (parameters and optimizer state): %s\n",
                checkpoint.c_str());
    const std::string plot = out_dir + "/" + name + "_loss.svg";
    if (absl::Status s = DrawPlot(curve, plot); !s.ok()) return stop(s);
    std::printf("loss curve: %s\n", plot.c_str());
  }
  return 0;
}

void PrintStepTimes(const DataParallelTrainer& trainer) {
  const StepTimes& t = trainer.times();
  if (trainer.rank() != 0 || t.steps == 0) return;
  const double ms = 1e3 / t.steps;
  std::printf(
      "%d worker(s), %d bucket(s): %.2f ms per step (gradient %.2f, "
      "update %.2f, waiting for sums %.2f = %.0f%% of the step)\n",
      trainer.workers(), trainer.num_buckets(), t.total * ms, t.gradient * ms,
      t.update * ms, t.wait * ms, 100 * t.wait / std::max(t.total, 1e-12));
}

}  // namespace adc::train
