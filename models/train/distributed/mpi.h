// Data-parallel training across processes and machines on Open MPI: the
// Communicator of data_parallel.h, and the loop that trains a model on a
// dataset with the global batch split across the workers.
//
//   mpirun -np 2 bazel-bin/models/train/train_digits OUT_DIR
//
// Open MPI rather than Gloo: Debian's Open MPI brings its launcher
// (mpirun: processes on one or many machines, their placement, the
// transports between them, and stopping the whole job when one process
// fails), while Gloo needs a rendezvous store and a launcher of our own.
#ifndef ADC_MODELS_TRAIN_DISTRIBUTED_MPI_H_
#define ADC_MODELS_TRAIN_DISTRIBUTED_MPI_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/train/data_parallel.h"
#include "models/train/datasets.h"
#include "models/train/optimizers.h"
#include "tools/plot.h"

namespace adc::train {

class MpiCommunicator : public Communicator {
 public:
  // Whether mpirun (or another Open MPI launcher) started this process.
  static bool Launched();
  // MPI_Init_thread (MPI_THREAD_MULTIPLE: the trainer sums on its own
  // thread); errors are returned, not fatal. One per process; the
  // destructor finalizes MPI.
  static absl::StatusOr<std::unique_ptr<MpiCommunicator>> Init(int* argc,
                                                               char*** argv);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Workers on this machine, and this one's index among them.
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }
  // Threads for this worker's artifacts: the cores mpirun bound it to (one
  // core each by default when it starts at most 2 processes), or, if it is
  // not bound, this machine's cores shared among its workers.
  int ThreadsPerWorker() const;

  // Reduce-scatter then all-gather, each moving (W - 1)/W of the data per
  // worker as a ring all-reduce does: worker r receives element chunk r of
  // every worker (MPI_Alltoall), adds them in rank order, and the sums go
  // to everyone (MPI_Allgather).
  absl::Status Sum(void* data, rt::DType dtype, int64_t n) override;
  absl::Status Broadcast(void* data, int64_t bytes, int root) override;
  absl::StatusOr<std::vector<uint64_t>> AllGather(uint64_t value) override;
  absl::Status Barrier() override;
  [[noreturn]] void Abort(const std::string& why) override;

 private:
  MpiCommunicator() = default;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::vector<unsigned char> send_, recv_, sum_;
};

// A data-parallel run over `data`: each step takes the next `global_batch`
// examples of the epoch's order (a shuffle seeded by order_seed + epoch,
// the same on every worker), and each worker takes its slice of them,
// split into the trainer's micro-batches. Starts at trainer.steps() (a
// restored checkpoint), so a resumed run sees the batches the
// uninterrupted one would.
struct DataParallelRun {
  int64_t global_batch = 0;
  int64_t steps = 0;            // Total, counted from step 0.
  int64_t steps_per_epoch = 0;  // 0: every whole global batch of `data`.
  uint32_t order_seed = 0;
  // Rank 0 prints progress (unless quiet), appends the losses to `loss_curve`
  // (if set) and every `checkpoint_every` steps (0: never) saves a checkpoint
  // to `checkpoint` (all workers take part).
  bool quiet = false;
  PlotData* loss_curve = nullptr;
  std::string checkpoint;
  int64_t checkpoint_every = 0;
  // Called on every worker before each step (the step's number, from 0).
  std::function<void(int64_t)> before_step;
};
absl::Status RunDataParallel(DataParallelTrainer& trainer, const Dataset& data,
                             const DataParallelRun& run);

// The steps of one epoch of `data` in global batches of `global_batch`.
int64_t StepsPerEpoch(const Dataset& data, int64_t global_batch);

// A training program's run under mpirun (train_digits, train_fashion): the
// model for micro-batches of global_batch / workers, trained with `opt` for
// `epochs` epochs of at most `steps_per_epoch` steps (0: all); after each
// epoch rank 0 prints the time and evaluate()'s line, and every worker
// saves OUT_DIR/<label>_checkpoint.pb; at the end rank 0 draws the loss
// curve OUT_DIR/<label>_loss.svg and prints the step times. Artifacts go to
// OUT_DIR/<label>_workers/rank<r>.
struct DistributedProgram {
  std::string label, title;
  std::function<absl::StatusOr<Graph>(int64_t batch)> model;
  Optimizer opt;
  const Dataset* data = nullptr;
  int64_t global_batch = 0;
  int epochs = 1;
  int64_t steps_per_epoch = 0;
  uint32_t order_seed = 2;
  // Rank 0's evaluation of the current values: a line to print.
  std::function<absl::StatusOr<std::string>(
      const std::map<std::string, rt::ConstBuffer>&)>
      evaluate;
};
int RunDistributedProgram(int* argc, char*** argv, const std::string& out_dir,
                          const DistributedProgram& program);

// Prints, on rank 0, the time per step and the share spent waiting for
// sums (the communication the updates did not hide).
void PrintStepTimes(const DataParallelTrainer& trainer);

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_DISTRIBUTED_MPI_H_
