// Data-parallel training and gradient accumulation (PyTorch's
// DistributedDataParallel): every worker runs the same compiled gradient
// step on its share of the global batch, the gradients are summed across
// workers in buckets, and every worker applies the same compiled update to
// the same sums, so the parameters stay identical everywhere.
//
// The training step is split in two kinds of artifact (optimizers.h):
//   - the gradient step (the model's forward and backward for one
//     micro-batch), whose gradients are outputs written straight into the
//     buckets;
//   - one update artifact per bucket (the optimizer on that bucket's
//     parameters).
// After the gradient step a communication thread reduces the buckets one
// after another while the calling thread applies each bucket's update as
// soon as its sums arrive: the update of bucket k overlaps the reduction of
// bucket k + 1.
//
// Sums are added in a fixed order (worker by worker in rank order, each
// worker's micro-batches in order), so a run is reproducible bit for bit,
// and W workers of one micro-batch each give the same bits as one process
// accumulating W micro-batches (what the tests check). The collective
// library is behind Communicator; the MPI one is models/train/distributed.
#ifndef ADC_MODELS_TRAIN_DATA_PARALLEL_H_
#define ADC_MODELS_TRAIN_DATA_PARALLEL_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "models/train/optimizers.h"
#include "runtime/module.h"

namespace adc::train {

// Collective operations among the workers of a data-parallel run; one per
// process. Every worker calls each operation in the same order. The trainer
// calls Sum from its communication thread and the others from the thread
// that calls the trainer, never two at once.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `n` elements of `dtype` (f32 or f64) over the workers, in place:
  // element i becomes (((x_0[i] + x_1[i]) + x_2[i]) + ...) in rank order,
  // the same bits on every worker whatever algorithm the library picks.
  virtual absl::Status Sum(void* data, rt::DType dtype, int64_t n) = 0;
  // Rank `root`'s `bytes` bytes at `data`, to every worker.
  virtual absl::Status Broadcast(void* data, int64_t bytes, int root) = 0;
  // Every worker's `value`, by rank.
  virtual absl::StatusOr<std::vector<uint64_t>> AllGather(uint64_t value) = 0;
  virtual absl::Status Barrier() = 0;
  // Stops every worker with `why` on standard error: for a failure that
  // leaves a collective operation waiting forever.
  [[noreturn]] virtual void Abort(const std::string& why) = 0;
};

struct DataParallelOptions {
  // Micro-batches per worker and step, their gradients summed (gradient
  // accumulation): the global batch is workers x micro_batches x the
  // model's batch.
  int64_t micro_batches = 1;
  // Gradient bytes per bucket (parameters are never split). PyTorch's DDP
  // uses 25 MB; small buckets start the update sooner, large ones waste
  // less per-message latency.
  int64_t bucket_bytes = 4 << 20;
  // A bucket not summed by then means a worker died or hangs: the trainer
  // stops every worker (Communicator::Abort) with the step and bucket.
  double comm_timeout_seconds = 300;
  // Threads of each artifact's pool (0: one per core).
  int num_threads = 0;
};

// Where the time of the steps went (seconds, summed over steps).
struct StepTimes {
  double gradient = 0;  // The gradient step (all micro-batches).
  double update = 0;    // The update artifacts.
  double wait = 0;      // Waiting for sums: communication not hidden.
  double total = 0;
  int64_t steps = 0;
};

class DataParallelTrainer {
 public:
  // `model`: one micro-batch's model graph, with the scalar output `loss`
  // (its mean over the micro-batch) and the same on every worker (checked
  // by fingerprint). `comm`: the workers (null: this process alone).
  // Rank 0 compiles the artifacts into `artifact_dir` and sends their bytes
  // to the others, which write them to `artifact_dir` (give each worker on
  // one machine its own). Every worker starts from rank 0's parameters.
  static absl::StatusOr<std::unique_ptr<DataParallelTrainer>> Create(
      const Graph& model, const std::string& loss, const Optimizer& opt,
      Communicator* comm, const std::string& artifact_dir,
      const DataParallelOptions& options = {});
  ~DataParallelTrainer();

  // One step on this worker's micro-batches (options.micro_batches of them,
  // each the model's inputs by name); returns the loss averaged over every
  // worker and micro-batch. Integer buffers (the dropout seed) are fed as
  // seed x shards + shard, where shard counts the micro-batches of all
  // workers in rank order, so that each draws its own masks, and advance
  // by one per step; float buffers (batch norm's running statistics) become
  // the mean of what each micro-batch computed.
  absl::StatusOr<double> Step(
      const std::vector<std::map<std::string, rt::ConstBuffer>>& micro_batches);

  int rank() const { return comm_ ? comm_->rank() : 0; }
  int workers() const { return comm_ ? comm_->size() : 1; }
  int64_t micro_batches() const { return options_.micro_batches; }
  int64_t steps() const { return steps_; }  // Taken, checkpoints included.
  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  const StepTimes& times() const { return times_; }

  // The current parameters, optimizer states and buffers by name.
  std::map<std::string, rt::ConstBuffer> Values() const;

  // A checkpoint, written by rank 0 (to a temporary file renamed into
  // place) while the others wait: Trainer::Save's format (the model and its
  // gradients with the current values as stored parameter values, plus the
  // optimizer states, "adam.step" and the i64 "train.step"). Every worker
  // calls it. Trainer::Restore reads it too.
  absl::Status Save(const std::string& path) const;
  // Continues from a checkpoint of Save or Trainer::Save, written with any
  // number of workers: rank 0 reads it and sends the values to the others
  // (only rank 0 needs the file). Every worker calls it.
  absl::Status Restore(const std::string& path);

 private:
  struct Slot {  // A value the trainer keeps.
    std::string name;
    rt::DType dtype;
    std::vector<int64_t> dims;
  };
  struct Bucket {
    rt::DType dtype;
    std::vector<int> params;      // Indices into params_.
    std::vector<int64_t> offset;  // Of each, in elements.
    int64_t elements = 0;
    std::vector<unsigned char> sum;
    std::unique_ptr<rt::Module> update;
  };
  DataParallelTrainer() = default;
  absl::Status Compile(const std::string& artifact_dir,
                       const std::vector<Graph>& graphs);
  absl::Status Share();  // Rank 0's values to every worker.
  absl::Status WaitFor(int bucket, double* waited);
  void CommLoop();

  Communicator* comm_ = nullptr;
  DataParallelOptions options_;
  Optimizer opt_;
  Graph checkpoint_graph_;
  std::string loss_;
  std::unique_ptr<rt::Module> grad_;
  std::vector<Slot> slots_;  // Parameters, states, buffers.
  std::vector<rt::Tensor> current_, next_;
  std::map<std::string, int> slot_of_;
  std::vector<int> params_;         // Slots of the trained parameters.
  std::vector<std::string> grads_;  // Their gradient outputs.
  std::vector<int> buffers_;        // Slots of the buffers.
  std::vector<Bucket> buckets_;
  // The loss and the float buffers' elements, summed in f64 (the last
  // reduction of a step).
  std::vector<double> extras_;
  float adam_step_ = 0;
  int64_t steps_ = 0;
  StepTimes times_;

  // The communication thread: reduces buckets [0, queued_) in order (the
  // extras last, as bucket index buckets_.size()).
  std::thread comm_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  int queued_ = 0, done_ = 0;
  bool stop_ = false;
  absl::Status comm_status_;
};

}  // namespace adc::train

#endif  // ADC_MODELS_TRAIN_DATA_PARALLEL_H_
