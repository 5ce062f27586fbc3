// dnnl.cpp — oneDNN engine/stream, layouts, memory wrappers, the primitive cache, the
// implementation list and the thread count (see dnnl.h).
#include "tensor/dnnl.h"

#include <mutex>
#include <unordered_map>

#include <omp.h>

namespace kz {
namespace {

struct KeyHash {
  size_t operator()(const DnnlKey& k) const {
    size_t h = std::hash<std::string>()(k.op);
    for (int64_t v : k.values) h = h * 1000003u ^ std::hash<int64_t>()(v);
    return h;
  }
};

// The one global: engine, stream, cached plans and the implementations they chose.
struct DnnlContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mutex mutex;
  std::unordered_map<DnnlKey, std::shared_ptr<void>, KeyHash> plans;
  std::vector<DnnlImpl> impls;
};

DnnlContext& context() {
  static DnnlContext ctx;
  return ctx;
}

// True when every dim of size > 1 has the stride `want` gives it.
bool dense_with(const Tensor& x, const Shape& want) {
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.size(d) > 1 && x.stride(d) != want[static_cast<size_t>(d)]) return false;
  return true;
}

}  // namespace

dnnl::engine& dnnl_engine() { return context().engine; }
dnnl::stream& dnnl_stream() { return context().stream; }

Layout layout_of(const Tensor& x) {
  KZ_ASSERT(x.dim() == 4);
  const Shape cl = channels_last_strides(x.shape());
  const bool nchw = dense_with(x, contiguous_strides(x.shape()));
  const bool nhwc = dense_with(x, cl);
  // Dense both ways: the memory is the same either way. A 1×1 map counts as channels-last
  // (oneDNN's fast kernels are the NHWC ones); otherwise exact strides decide (C = 1).
  if (nchw && nhwc)
    return x.size(2) * x.size(3) == 1 || x.strides() == cl ? Layout::nhwc : Layout::nchw;
  if (nchw) return Layout::nchw;
  if (nhwc) return Layout::nhwc;
  return Layout::other;
}

Tensor empty_in_layout(const Shape& shape, Layout layout) {
  return layout == Layout::nhwc ? Tensor::empty_channels_last(shape) : Tensor::empty(shape);
}

Tensor to_layout(const Tensor& x, Layout layout) {
  KZ_ASSERT(layout != Layout::other);
  if (layout_of(x) == layout) return x;
  Tensor out = empty_in_layout(x.shape(), layout);
  out.copy_(x);
  return out;
}

dnnl::memory::desc dnnl_desc(const Shape& dims, Layout layout) {
  KZ_ASSERT(dims.size() == 4 && layout != Layout::other);
  const Shape strides =
      layout == Layout::nhwc ? channels_last_strides(dims) : contiguous_strides(dims);
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

dnnl::memory::desc dnnl_desc(const Shape& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, tag);
}

dnnl::memory dnnl_memory(const dnnl::memory::desc& md, const Tensor& t) {
  KZ_ASSERT(t.defined() && static_cast<int64_t>(md.get_size()) <= t.numel() * 4);
  return dnnl::memory(md, dnnl_engine(), const_cast<float*>(t.data()));
}

dnnl::memory dnnl_scratch_memory(const dnnl::memory::desc& md, Tensor* holder) {
  *holder = Tensor::empty({static_cast<int64_t>((md.get_size() + 3) / 4)});
  return dnnl::memory(md, dnnl_engine(), holder->data());
}

void dnnl_execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

dnnl::reorder dnnl_make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                                const std::string& what) {
  dnnl::reorder::primitive_desc pd(dnnl_engine(), from, dnnl_engine(), to);
  dnnl_note_impl("reorder " + what, pd);
  return dnnl::reorder(pd);
}

std::optional<dnnl::reorder> dnnl_reorder_if_needed(const dnnl::memory::desc& from,
                                                    const dnnl::memory::desc& to,
                                                    const std::string& what) {
  if (from == to) return std::nullopt;
  return dnnl_make_reorder(from, to, what);
}

dnnl::memory dnnl_weights_for(const std::optional<dnnl::reorder>& reorder,
                              const dnnl::memory& user, const dnnl::memory::desc& want,
                              Tensor* holder) {
  if (!reorder) return user;
  dnnl::memory m = dnnl_scratch_memory(want, holder);
  dnnl_execute(*reorder, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, m}});
  return m;
}

std::shared_ptr<void> dnnl_cache_find(const DnnlKey& key) {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  auto it = ctx.plans.find(key);
  return it == ctx.plans.end() ? nullptr : it->second;
}

void dnnl_cache_insert(const DnnlKey& key, std::shared_ptr<void> plan) {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  ctx.plans.emplace(key, std::move(plan));
}

void dnnl_note_impl(const std::string& what, const dnnl::primitive_desc_base& pd) {
  dnnl_note_impl(what, std::string(pd.impl_info_str()));
}

void dnnl_note_impl(const std::string& what, const std::string& impl) {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  ctx.impls.push_back({what, impl});
}

std::vector<DnnlImpl> dnnl_impls() {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  return ctx.impls;
}

void dnnl_cache_clear() {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  ctx.plans.clear();
  ctx.impls.clear();
}

int64_t dnnl_cache_size() {
  DnnlContext& ctx = context();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  return static_cast<int64_t>(ctx.plans.size());
}

void dnnl_set_num_threads(int threads) {
  KZ_CHECK(threads >= 1, "dnnl", "thread count must be at least 1, got {}", threads);
  omp_set_num_threads(threads);
}

int dnnl_num_threads() { return omp_get_max_threads(); }

}  // namespace kz
