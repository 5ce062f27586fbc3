// grad_sync.cpp — the bucketed gradient exchange of data-parallel training (grad_sync.h).
#include "dist/grad_sync.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace kz {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The tensor's elements in memory order: itself when dense, else made contiguous in place.
std::span<float> dense_span(Tensor& t) {
  if (!t.is_dense()) t = t.contiguous();
  return {t.data(), static_cast<size_t>(t.numel())};
}

// Sets this thread's grad-ready observer for a scope, then the previous one back (none).
struct ObserverScope {
  explicit ObserverScope(GradReadyObserver* o) { set_grad_ready_observer(o); }
  ~ObserverScope() { set_grad_ready_observer(nullptr); }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;
};

}  // namespace

GradSync::GradSync(Communicator& comm, std::vector<Variable> params, size_t bucket_bytes)
    : comm_(comm) {
  std::reverse(params.begin(), params.end());  // backward finishes the last layers first
  for (Variable& p : params) {
    KZ_CHECK(p.defined() && p.is_leaf() && p.requires_grad(), "dist",
             "GradSync: every parameter must be a leaf that requires grad");
    const auto bytes = static_cast<size_t>(p.numel()) * sizeof(float);
    const bool full = !buckets_.empty() && bucket_bytes > 0 &&
                      buckets_.back().buffer.size() * sizeof(float) + bytes > bucket_bytes &&
                      !buckets_.back().slots.empty();
    if (buckets_.empty() || full) buckets_.emplace_back();
    Bucket& b = buckets_.back();
    Slot s;
    s.param = p;
    s.offset = b.buffer.size();
    KZ_CHECK(where_.count(p.impl().get()) == 0, "dist", "GradSync: a parameter is listed twice");
    where_[p.impl().get()] = {buckets_.size() - 1, slots_.size()};
    b.slots.push_back(slots_.size());
    b.buffer.resize(b.buffer.size() + static_cast<size_t>(p.numel()));
    slots_.push_back(std::move(s));
  }
}

GradSync::~GradSync() {
  for (Bucket& b : buckets_)
    if (b.pending) b.pending->wait();
}

void GradSync::copy_in(Slot& s, std::span<float> buffer) {
  const auto n = static_cast<size_t>(s.param.numel());
  float* to = buffer.data() + s.offset;
  Tensor& g = s.param.grad();
  s.had_grad = g.defined();
  if (s.had_grad)
    std::memcpy(to, dense_span(g).data(), n * sizeof(float));
  else
    std::fill(to, to + n, 0.0f);
  s.ready = true;
}

void GradSync::start(Bucket& b) {
  b.pending = comm_.start_allreduce_sum(b.buffer);
  ++timing_.buckets;
}

void GradSync::ready(VariableImpl& leaf) {
  const auto it = where_.find(&leaf);
  if (it == where_.end()) return;  // a leaf that is not one of ours (an input, say)
  const auto t0 = Clock::now();
  Bucket& b = buckets_[it->second.first];
  Slot& s = slots_[it->second.second];
  if (!s.ready) {
    copy_in(s, b.buffer);
    ++ready_count_;
    if (--b.waiting == 0) {
      start(b);
      if (ready_count_ < slots_.size()) ++timing_.buckets_early;  // gradients still to come
    }
  }
  for (Bucket& other : buckets_)  // let the sums in flight move on (see the file's description)
    if (other.pending) other.pending->test();
  timing_.hooks += since(t0);
}

void GradSync::backward(const Variable& loss, float scale) {
  for (Bucket& b : buckets_) {
    b.pending.reset();
    b.waiting = b.slots.size();
  }
  for (Slot& s : slots_) s.ready = false;
  ready_count_ = 0;
  const auto t0 = Clock::now();
  {
    ObserverScope scope(this);
    loss.backward(Tensor::full(loss.shape(), scale));
  }
  timing_.backward += since(t0);
  const auto t1 = Clock::now();
  // Parameters backward never reached (not in this graph): zeros, and their buckets start
  // now, in bucket order — the same on every rank.
  for (Bucket& b : buckets_) {
    if (b.pending) continue;
    for (size_t i : b.slots)
      if (!slots_[i].ready) copy_in(slots_[i], b.buffer);
    start(b);
  }
  for (Bucket& b : buckets_) {
    b.pending->wait();
    for (size_t i : b.slots) {
      Slot& s = slots_[i];
      if (!s.had_grad) continue;  // no rank had one (the same graph everywhere)
      std::span<float> g = dense_span(s.param.grad());
      std::memcpy(g.data(), b.buffer.data() + s.offset, g.size() * sizeof(float));
    }
  }
  timing_.wait += since(t1);
  ++timing_.steps;
}

}  // namespace kz
