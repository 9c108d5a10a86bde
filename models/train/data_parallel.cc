#include "models/train/data_parallel.h"

#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "codegen/compile.h"
#include "graph/builder.h"
#include "graph/check.h"
#include "graph/file_io.h"
#include "graph/serialize.h"
#include "tools/cli.h"

namespace adc::train {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status FromRt(const rt::Status& s, const std::string& what) {
  return s.ok() ? absl::OkStatus()
                : absl::InternalError(absl::StrCat(what, ": ", s.message()));
}

bool IsFloatRt(rt::DType d) {
  return d == rt::DType::kF32 || d == rt::DType::kF64;
}

int64_t NumElements(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

double ElementAsDouble(const rt::Tensor& t, int64_t i) {
  return t.dtype() == rt::DType::kF64 ? t.data_as<double>()[i]
                                      : t.data_as<float>()[i];
}

int64_t IntScalar(const rt::Tensor& t) {
  return t.dtype() == rt::DType::kI64 ? *t.data_as<int64_t>()
                                      : *t.data_as<int32_t>();
}

void SetIntScalar(rt::Tensor& t, int64_t v) {
  if (t.dtype() == rt::DType::kI64) {
    *t.data_as<int64_t>() = v;
  } else {
    *t.data_as<int32_t>() = static_cast<int32_t>(v);
  }
}

// A stable fingerprint of bytes (the same in every process and on every
// machine, unlike absl::Hash): zlib's CRC-32 and the length.
uint64_t Fingerprint(const std::string& bytes, uint64_t previous) {
  const uLong crc =
      crc32_z(static_cast<uLong>(previous & 0xffffffffu),
              reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
  return (((previous >> 32) + bytes.size()) << 32) | crc;
}

// Moves the file `tmp` to `path` (replacing it at once: a reader, or a
// process that has the old file loaded, never sees a partial file).
absl::Status RenameInto(const std::string& tmp, const std::string& path) {
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot rename '", tmp, "' to '", path, "': ", error.message()));
  }
  return absl::OkStatus();
}

std::string TempName(const std::string& path) {
  return absl::StrCat(path, ".tmp", getpid());
}

// Every worker gets rank 0's outcome of an operation only rank 0 did.
absl::Status Agree(Communicator* comm, absl::Status status,
                   const std::string& what) {
  if (comm == nullptr || comm->size() == 1) return status;
  int32_t ok = status.ok();
  ADC_RETURN_IF_ERROR(comm->Broadcast(&ok, sizeof ok, 0));
  if (!ok && status.ok()) {
    return absl::AbortedError(absl::StrCat("worker 0 could not ", what));
  }
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataParallelTrainer>>
DataParallelTrainer::Create(const Graph& model, const std::string& loss,
                            const Optimizer& opt, Communicator* comm,
                            const std::string& artifact_dir,
                            const DataParallelOptions& options) {
  if (options.micro_batches < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "micro_batches is ", options.micro_batches, "; it must be at least 1"));
  }
  std::unique_ptr<DataParallelTrainer> t(new DataParallelTrainer());
  t->comm_ = comm;
  t->options_ = options;
  t->opt_ = opt;
  t->loss_ = loss;
  Graph grad = model;
  ADC_ASSIGN_OR_RETURN(GradientStep step, AddGradientStep(&grad, loss));
  const int64_t shards = t->workers() * options.micro_batches;

  // The values kept: every parameter of the gradient graph (trained or
  // buffer), then the optimizer states.
  for (ValueId id : grad.parameters()) {
    const std::string& name = grad.node(id).name;
    const TensorType& type = grad.type(id);
    t->slot_of_[name] = static_cast<int>(t->slots_.size());
    t->slots_.push_back({name, cli::ToRuntime(type.dtype), type.dims});
    rt::Tensor value(cli::ToRuntime(type.dtype), type.dims);
    const std::vector<uint8_t> bytes =
        grad.node(id).attrs.GetTensor("value").ToBytes();
    std::memcpy(value.data(), bytes.data(), bytes.size());
    t->current_.push_back(std::move(value));
  }
  for (const std::string& name : step.buffers) {
    t->buffers_.push_back(t->slot_of_.at(name));
  }
  // The checkpoint: the gradient graph with the optimizer's values too.
  Graph checkpoint = grad;
  GraphBuilder cb(&checkpoint);
  for (size_t k = 0; k < step.params.size(); ++k) {
    const int p = t->slot_of_.at(step.params[k]);
    t->params_.push_back(p);
    t->grads_.push_back(step.grads[k]);
    for (const std::string& s : StateNames(opt)) {
      const std::string name = absl::StrCat(step.params[k], ".", s);
      const Slot& ps = t->slots_[p];
      t->slot_of_[name] = static_cast<int>(t->slots_.size());
      t->slots_.push_back({name, ps.dtype, ps.dims});
      t->current_.emplace_back(ps.dtype, ps.dims);  // Zeros.
      cb.Parameter(name, Tensor(grad.type(*grad.Find(step.params[k]))));
    }
  }
  for (const Slot& s : t->slots_) t->next_.emplace_back(s.dtype, s.dims);
  if (opt.kind == Optimizer::kAdam) {
    cb.Parameter("adam.step", Tensor::Scalar(0, DType::kF32));
  }
  cb.Parameter("train.step", Tensor::Scalar(0, DType::kI64));
  if (!cb.ok()) return cb.status();

  // Buckets: the parameters from the last to the first (the order in which
  // a backward pass finishes them, as DDP), by dtype, filled up to
  // bucket_bytes.
  std::vector<Graph> graphs = {grad};
  std::map<rt::DType, int> open;  // The bucket being filled, by dtype.
  for (int k = static_cast<int>(t->params_.size()) - 1; k >= 0; --k) {
    const Slot& s = t->slots_[t->params_[k]];
    const int64_t width = rt::DTypeSize(s.dtype);
    const int64_t elements = NumElements(s.dims);
    auto it = open.find(s.dtype);
    if (it == open.end() ||
        (t->buckets_[it->second].elements + elements) * width >
            options.bucket_bytes) {
      open[s.dtype] = static_cast<int>(t->buckets_.size());
      t->buckets_.emplace_back();
      t->buckets_.back().dtype = s.dtype;
    }
    Bucket& b = t->buckets_[open[s.dtype]];
    b.params.push_back(k);
    b.offset.push_back(b.elements);
    b.elements += elements;
  }
  for (size_t k = 0; k < t->buckets_.size(); ++k) {
    Bucket& b = t->buckets_[k];
    b.sum.resize(b.elements * rt::DTypeSize(b.dtype));
    std::vector<std::pair<std::string, TensorType>> params;
    for (int p : b.params) {
      const std::string& name = t->slots_[t->params_[p]].name;
      params.push_back({name, grad.type(*grad.Find(name))});
    }
    ADC_ASSIGN_OR_RETURN(
        Graph update,
        BuildUpdateGraph(absl::StrCat("update", k), params, opt, shards));
    graphs.push_back(std::move(update));
  }
  t->extras_.assign(1, 0.0);
  for (int b : t->buffers_) {
    if (IsFloatRt(t->slots_[b].dtype)) {
      t->extras_.resize(t->extras_.size() + NumElements(t->slots_[b].dims));
    }
  }
  t->checkpoint_graph_ = std::move(checkpoint);
  ADC_RETURN_IF_ERROR(t->Compile(artifact_dir, graphs));
  bool has_loss = false;
  for (const rt::ArgSpec& a : t->grad_->signature().outputs) {
    has_loss |= a.name == loss && a.num_elements() == 1;
  }
  if (!has_loss) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model has no scalar output '", loss, "'"));
  }
  ADC_RETURN_IF_ERROR(t->Share());
  if (comm != nullptr && comm->size() > 1) {
    t->comm_thread_ = std::thread([p = t.get()] { p->CommLoop(); });
  }
  return t;
}

// Rank 0 compiles; the bytes of each artifact go to every worker (the seal
// the runtime checks at load covers them). The workers first compare
// fingerprints of the graphs, so that a worker running another program or
// model stops here with an error rather than mixing gradients.
absl::Status DataParallelTrainer::Compile(const std::string& artifact_dir,
                                          const std::vector<Graph>& graphs) {
  uint64_t fingerprint = 0;
  for (const Graph& g : graphs) {
    fingerprint = Fingerprint(GraphDefToBytes(GraphToProto(g)), fingerprint);
  }
  const bool distributed = comm_ != nullptr && comm_->size() > 1;
  if (distributed) {
    ADC_ASSIGN_OR_RETURN(std::vector<uint64_t> all,
                         comm_->AllGather(fingerprint));
    for (size_t r = 1; r < all.size(); ++r) {
      if (all[r] != all[0]) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "worker %d builds a different training step than worker 0 "
            "(fingerprint %016x, worker 0's %016x): every worker must run "
            "the same program with the same model, optimizer and options",
            r, all[r], all[0]));
      }
    }
  }
  std::error_code ignored;
  std::filesystem::create_directories(artifact_dir, ignored);
  for (size_t k = 0; k < graphs.size(); ++k) {
    const std::string path =
        k == 0 ? artifact_dir + "/grad.so"
               : absl::StrCat(artifact_dir, "/update", k - 1, ".so");
    absl::Status status;
    std::string bytes;
    if (rank() == 0) {
      status = CompileToSharedLibrary(graphs[k], path);
      if (status.ok() && distributed) {
        absl::StatusOr<std::string> read =
            ReadFileAtMost(path, int64_t{1} << 40, "artifact size");
        if (read.ok()) bytes = *std::move(read);
        status = read.status();
      }
    }
    if (distributed) {
      int64_t size = status.ok() ? static_cast<int64_t>(bytes.size()) : -1;
      ADC_RETURN_IF_ERROR(comm_->Broadcast(&size, sizeof size, 0));
      if (size < 0) {
        if (!status.ok()) return status;
        return absl::AbortedError(absl::StrCat("worker 0 could not compile '",
                                               graphs[k].name(), "'"));
      }
      bytes.resize(size);
      ADC_RETURN_IF_ERROR(comm_->Broadcast(bytes.data(), size, 0));
      if (rank() != 0) {
        status = WriteFile(TempName(path), bytes);
        if (status.ok()) status = RenameInto(TempName(path), path);
      }
    }
    ADC_RETURN_IF_ERROR(status);
    rt::StatusOr<std::unique_ptr<rt::Module>> m = rt::Module::Load(path);
    ADC_RETURN_IF_ERROR(FromRt(m.status(), path));
    (*m)->set_num_threads(options_.num_threads);
    if (k == 0) {
      grad_ = std::move(*m);
    } else {
      buckets_[k - 1].update = std::move(*m);
    }
  }
  return absl::OkStatus();
}

absl::Status DataParallelTrainer::Share() {
  if (comm_ == nullptr || comm_->size() == 1) return absl::OkStatus();
  for (rt::Tensor& value : current_) {
    ADC_RETURN_IF_ERROR(comm_->Broadcast(value.data(), value.size_bytes(), 0));
  }
  ADC_RETURN_IF_ERROR(comm_->Broadcast(&adam_step_, sizeof adam_step_, 0));
  return comm_->Broadcast(&steps_, sizeof steps_, 0);
}

DataParallelTrainer::~DataParallelTrainer() {
  if (comm_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    comm_thread_.join();
  }
}

void DataParallelTrainer::CommLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || done_ < queued_; });
    if (stop_) return;
    const int k = done_;
    lock.unlock();
    const bool extras = k == static_cast<int>(buckets_.size());
    absl::Status s =
        extras ? comm_->Sum(extras_.data(), rt::DType::kF64, extras_.size())
               : comm_->Sum(buckets_[k].sum.data(), buckets_[k].dtype,
                            buckets_[k].elements);
    lock.lock();
    if (!s.ok() && comm_status_.ok()) {
      comm_status_ = absl::Status(
          s.code(), absl::StrCat("step ", steps_ + 1, ": summing ",
                                 extras ? "the loss and buffers"
                                        : absl::StrCat("bucket ", k),
                                 " across workers: ", s.message()));
    }
    done_ = k + 1;
    cv_.notify_all();
  }
}

absl::Status DataParallelTrainer::WaitFor(int k, double* waited) {
  if (!comm_thread_.joinable()) return absl::OkStatus();
  const Clock::time_point start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options_.comm_timeout_seconds));
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return done_ > k; })) {
    const bool extras = k == static_cast<int>(buckets_.size());
    const std::string what =
        extras ? "the loss and buffers"
               : absl::StrFormat("bucket %d of %d (%d parameters, %d bytes)", k,
                                 buckets_.size(), buckets_[k].params.size(),
                                 buckets_[k].sum.size());
    comm_->Abort(absl::StrFormat(
        "worker %d: step %d: the sum of %s across the %d workers did not "
        "arrive within %g s: another worker has stopped or hangs; stopping "
        "every worker",
        rank(), steps_ + 1, what, workers(), options_.comm_timeout_seconds));
  }
  *waited += Since(start);
  return comm_status_;
}

absl::StatusOr<double> DataParallelTrainer::Step(
    const std::vector<std::map<std::string, rt::ConstBuffer>>& micro_batches) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!comm_status_.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "an earlier step failed (", comm_status_.message(), ")"));
    }
  }
  if (static_cast<int64_t>(micro_batches.size()) != options_.micro_batches) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Step got ", micro_batches.size(),
        " micro-batches; the trainer was made for ", options_.micro_batches));
  }
  const Clock::time_point start = Clock::now();
  const int64_t shards = workers() * options_.micro_batches;
  rt::Tensor loss;
  for (const rt::ArgSpec& a : grad_->signature().outputs) {
    if (a.name == loss_) loss = rt::Tensor(a.dtype, a.dims);
  }
  // Outputs of the buffers' new values, and the integer buffers' fed values.
  std::vector<rt::Tensor> buffer_next, fed;
  for (int b : buffers_) {
    buffer_next.emplace_back(slots_[b].dtype, slots_[b].dims);
    fed.emplace_back(slots_[b].dtype, slots_[b].dims);
  }
  for (int64_t m = 0; m < options_.micro_batches; ++m) {
    std::map<std::string, rt::ConstBuffer> inputs = micro_batches[m];
    for (const rt::ArgSpec& a : grad_->signature().parameters) {
      inputs[a.name] = current_[slot_of_.at(a.name)].buffer();
    }
    std::map<std::string, rt::Buffer> outputs;
    outputs[loss_] = loss.buffer();
    for (size_t i = 0; i < buffers_.size(); ++i) {
      const Slot& s = slots_[buffers_[i]];
      outputs[s.name + ".next"] = buffer_next[i].buffer();
      if (!IsFloatRt(s.dtype)) {
        const int64_t shard = rank() * options_.micro_batches + m;
        SetIntScalar(fed[i], IntScalar(current_[buffers_[i]]) * shards + shard);
        inputs[s.name] = fed[i].buffer();
      }
    }
    for (Bucket& b : buckets_) {
      const size_t width = rt::DTypeSize(b.dtype);
      for (size_t j = 0; j < b.params.size(); ++j) {
        const Slot& s = slots_[params_[b.params[j]]];
        outputs[grads_[b.params[j]]] =
            rt::Buffer{b.sum.data() + b.offset[j] * width,
                       NumElements(s.dims) * width, s.dtype, s.dims};
      }
    }
    rt::RunOptions run;
    run.accumulate_gradients = m > 0;  // Adds in micro-batch order.
    ADC_RETURN_IF_ERROR(
        FromRt(grad_->Run(inputs, outputs, run),
               absl::StrCat("step ", steps_ + 1, ", micro-batch ", m)));
    // The loss and float buffers, summed in f64 in the same order.
    size_t e = 0;
    const double l = ElementAsDouble(loss, 0);
    extras_[e++] = m == 0 ? l : extras_[0] + l;
    for (size_t i = 0; i < buffers_.size(); ++i) {
      if (!IsFloatRt(slots_[buffers_[i]].dtype)) continue;
      for (int64_t j = 0; j < NumElements(slots_[buffers_[i]].dims); ++j, ++e) {
        const double v = ElementAsDouble(buffer_next[i], j);
        extras_[e] = m == 0 ? v : extras_[e] + v;
      }
    }
  }
  times_.gradient += Since(start);

  if (comm_thread_.joinable()) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = 0;
    queued_ = static_cast<int>(buckets_.size()) + 1;
    cv_.notify_all();
  }
  rt::Tensor adam_step(rt::DType::kF32, {});
  *adam_step.data_as<float>() = adam_step_;
  for (size_t k = 0; k < buckets_.size(); ++k) {
    ADC_RETURN_IF_ERROR(WaitFor(static_cast<int>(k), &times_.wait));
    const Clock::time_point update_start = Clock::now();
    Bucket& b = buckets_[k];
    const rt::Module& update = *b.update;
    const size_t width = rt::DTypeSize(b.dtype);
    std::map<std::string, rt::ConstBuffer> inputs;
    std::map<std::string, rt::Buffer> outputs;
    for (size_t j = 0; j < b.params.size(); ++j) {
      const Slot& s = slots_[params_[b.params[j]]];
      inputs[s.name + ".grad_sum"] = rt::ConstBuffer(
          rt::Buffer{b.sum.data() + b.offset[j] * width,
                     NumElements(s.dims) * width, s.dtype, s.dims});
    }
    for (const rt::ArgSpec& a : update.signature().parameters) {
      const int slot = slot_of_.at(a.name);
      inputs[a.name] = current_[slot].buffer();
      outputs[a.name + ".next"] = next_[slot].buffer();
    }
    if (opt_.kind == Optimizer::kAdam) inputs["adam.step"] = adam_step.buffer();
    ADC_RETURN_IF_ERROR(
        FromRt(update.Run(inputs, outputs), absl::StrCat("step ", steps_ + 1,
                                                         ", update of "
                                                         "bucket ",
                                                         k)));
    times_.update += Since(update_start);
  }
  ADC_RETURN_IF_ERROR(WaitFor(static_cast<int>(buckets_.size()), &times_.wait));
  size_t e = 1;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const int slot = buffers_[i];
    rt::Tensor& next = next_[slot];
    if (!IsFloatRt(slots_[slot].dtype)) {
      SetIntScalar(next, IntScalar(current_[slot]) + 1);
      continue;
    }
    for (int64_t j = 0; j < NumElements(slots_[slot].dims); ++j, ++e) {
      const double mean = extras_[e] / static_cast<double>(shards);
      if (next.dtype() == rt::DType::kF64) {
        next.data_as<double>()[j] = mean;
      } else {
        next.data_as<float>()[j] = static_cast<float>(mean);
      }
    }
  }
  std::swap(current_, next_);
  adam_step_ += 1;
  ++steps_;
  times_.total += Since(start);
  ++times_.steps;
  return extras_[0] / static_cast<double>(shards);
}

std::map<std::string, rt::ConstBuffer> DataParallelTrainer::Values() const {
  std::map<std::string, rt::ConstBuffer> values;
  for (size_t k = 0; k < slots_.size(); ++k) {
    values[slots_[k].name] = current_[k].buffer();
  }
  return values;
}

absl::Status DataParallelTrainer::Save(const std::string& path) const {
  absl::Status status;
  if (rank() == 0) {
    Graph g = checkpoint_graph_;
    auto set = [&](const std::string& name, const void* data, size_t size) {
      const ValueId id = *g.Find(name);
      absl::StatusOr<Tensor> value = Tensor::FromBytes(
          g.type(id),
          absl::MakeConstSpan(static_cast<const uint8_t*>(data), size));
      if (!value.ok()) return value.status();
      g.mutable_node(id).attrs.Set("value", *std::move(value));
      return absl::OkStatus();
    };
    for (size_t k = 0; k < slots_.size() && status.ok(); ++k) {
      status =
          set(slots_[k].name, current_[k].data(), current_[k].size_bytes());
    }
    if (status.ok() && opt_.kind == Optimizer::kAdam) {
      status = set("adam.step", &adam_step_, sizeof adam_step_);
    }
    if (status.ok()) status = set("train.step", &steps_, sizeof steps_);
    if (status.ok()) status = SaveGraph(g, TempName(path));
    if (status.ok()) status = RenameInto(TempName(path), path);
  }
  status = Agree(comm_, std::move(status),
                 absl::StrCat("write checkpoint '", path, "'"));
  return status;
}

absl::Status DataParallelTrainer::Restore(const std::string& path) {
  absl::Status status;
  std::vector<rt::Tensor> values = current_;
  float adam_step = 0;
  int64_t steps = 0;
  if (rank() == 0) {
    absl::StatusOr<Graph> g = LoadGraph(path);
    status = g.status();
    auto get = [&](const std::string& name, rt::DType dtype,
                   const std::vector<int64_t>& dims, void* into,
                   bool required) {
      std::optional<ValueId> id = g->Find(name);
      if (!id || g->node(*id).op != OpKind::kParameter) {
        return required ? absl::NotFoundError(
                              absl::StrCat("checkpoint '", path,
                                           "' has no parameter '", name, "'"))
                        : absl::OkStatus();
      }
      const Tensor& value = g->node(*id).attrs.GetTensor("value");
      if (cli::ToRuntime(value.dtype()) != dtype || value.dims() != dims) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "checkpoint '%s': parameter '%s' is %s, the model's is %s[%s]",
            path, name, value.type().ToString(), rt::DTypeName(dtype),
            absl::StrJoin(dims, ",")));
      }
      const std::vector<uint8_t> bytes = value.ToBytes();
      std::memcpy(into, bytes.data(), bytes.size());
      return absl::OkStatus();
    };
    for (size_t k = 0; k < slots_.size() && status.ok(); ++k) {
      status = get(slots_[k].name, slots_[k].dtype, slots_[k].dims,
                   values[k].data(), true);
    }
    if (status.ok() && opt_.kind == Optimizer::kAdam) {
      status = get("adam.step", rt::DType::kF32, {}, &adam_step, true);
    }
    if (status.ok()) {
      status = get("train.step", rt::DType::kI64, {}, &steps, false);
    }
  }
  ADC_RETURN_IF_ERROR(Agree(comm_, std::move(status),
                            absl::StrCat("read checkpoint '", path, "'")));
  if (rank() == 0) {
    current_ = std::move(values);
    adam_step_ = adam_step;
    steps_ = steps;
  }
  return Share();
}

}  // namespace adc::train
