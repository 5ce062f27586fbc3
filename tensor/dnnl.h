// dnnl.h — the one place kizuki talks to oneDNN (Debian's 2.6, the v2 API:
// `op::desc`, then `op::primitive_desc(desc, engine[, hint])`).
//
// What lives here:
//   * the CPU engine and stream, made lazily on first use (the one global in kizuki);
//   * memory descriptors for Tensors: an (N,C,H,W) activation is described by its dims and
//     strides as it lies in memory (NCHW or channels-last), so oneDNN reads it in place;
//   * the primitive cache: a kernel file builds a "plan" (primitive descs, primitives,
//     weight reorders) once per shape/parameter key and finds it again on later calls;
//   * the implementation names (`primitive_desc::impl_info_str()`, e.g. "brg:avx512_core",
//     "jit_dw:avx512_core", "ref:any") of every primitive in the cache, so tests can assert
//     that no reference implementation runs in the hot path without DNNL_VERBOSE;
//   * the thread count (oneDNN runs on OpenMP).
// Kernels: tensor/conv2d.cpp, tensor/conv_transpose2d.cpp, tensor/batch_norm.cpp,
// tensor/pool2d.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "tensor/tensor.h"

namespace kz {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// --- activation layouts ---------------------------------------------------------------------
// How an (N,C,H,W) activation lies in memory. Dims of size 1 may have any stride. When a
// tensor is dense in both layouts (C = 1 or H = W = 1: the memory is then the same), 1×1
// maps count as nhwc and otherwise exactly channels-last strides decide.
enum class Layout { nchw, nhwc, other };
Layout layout_of(const Tensor& x);  // x is (N,C,H,W)
// x itself when already in `layout`, else a copy in it (layout is nchw or nhwc).
Tensor to_layout(const Tensor& x, Layout layout);
// The layout a kernel computes in for input x: x's own, or nchw for odd strides.
inline Layout compute_layout(const Tensor& x) {
  Layout l = layout_of(x);
  return l == Layout::other ? Layout::nchw : l;
}
// An uninitialised (N,C,H,W) tensor in `layout`.
Tensor empty_in_layout(const Shape& shape, Layout layout);

// --- memory ---------------------------------------------------------------------------------
// f32 descriptor of an (N,C,H,W) tensor in `layout`, or of a plain tensor with `tag`.
dnnl::memory::desc dnnl_desc(const Shape& dims, Layout layout);
dnnl::memory::desc dnnl_desc(const Shape& dims, dnnl::memory::format_tag tag);
// A oneDNN memory over t's data (no copy); md must describe t's elements.
dnnl::memory dnnl_memory(const dnnl::memory::desc& md, const Tensor& t);
// A scratch tensor big enough for md (blocked layouts may pad), and a memory over it.
dnnl::memory dnnl_scratch_memory(const dnnl::memory::desc& md, Tensor* holder);
// Run a primitive on the stream and wait for it.
void dnnl_execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);
// A reorder primitive from one layout to another (its implementation is noted, below).
dnnl::reorder dnnl_make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                                const std::string& what);
// The same, or none when the two layouts are equal (weights into the layout a primitive
// chose with format_tag::any, or its diff weights back out).
std::optional<dnnl::reorder> dnnl_reorder_if_needed(const dnnl::memory::desc& from,
                                                    const dnnl::memory::desc& to,
                                                    const std::string& what);
// Weights as a primitive wants them (`want`): the user's memory itself without a reorder,
// else a scratch copy in *holder that the reorder fills.
dnnl::memory dnnl_weights_for(const std::optional<dnnl::reorder>& reorder,
                              const dnnl::memory& user, const dnnl::memory::desc& want,
                              Tensor* holder);

// --- the primitive cache --------------------------------------------------------------------
// Key: the op's name plus every number that shapes the primitive (dims, layout, params).
struct DnnlKey {
  std::string op;
  std::vector<int64_t> values;
  bool operator==(const DnnlKey&) const = default;
};

// The cached plan of type Plan under `key`, made by `make()` on first use. Each plan
// type must be used with its own op names.
std::shared_ptr<void> dnnl_cache_find(const DnnlKey& key);
void dnnl_cache_insert(const DnnlKey& key, std::shared_ptr<void> plan);
template <class Plan, class Make>
std::shared_ptr<Plan> dnnl_cached(const DnnlKey& key, Make&& make) {
  if (auto found = dnnl_cache_find(key)) return std::static_pointer_cast<Plan>(found);
  auto plan = std::make_shared<Plan>(make());
  dnnl_cache_insert(key, plan);
  return plan;
}

// Record the implementation a primitive desc chose (called by plans when they are made).
// `what` says which primitive, e.g. "conv2d_forward (32,96,16,16) g96 s2 nhwc".
void dnnl_note_impl(const std::string& what, const dnnl::primitive_desc_base& pd);
// Record a kernel of kizuki's own that runs where oneDNN's choice was too slow.
void dnnl_note_impl(const std::string& what, const std::string& impl);
// Record kizuki's own kernel `impl` once per `key` (through the plan cache, as oneDNN's
// primitives are noted when their plan is made); what() names the op and its shape. The key's
// op name must not be one a plan of another type uses.
template <class What>
void dnnl_note_own(const DnnlKey& key, const What& what, const char* impl) {
  dnnl_cached<bool>(key, [&] {
    dnnl_note_impl(what(), impl);
    return true;
  });
}

struct DnnlImpl {
  std::string what;  // the primitive and its shape
  std::string impl;  // oneDNN's implementation name, e.g. "brg:avx512_core", or "kizuki:.."
};
// Every primitive made since start or the last dnnl_cache_clear(), in creation order.
std::vector<DnnlImpl> dnnl_impls();
// Drop every cached plan and the implementation list.
void dnnl_cache_clear();
int64_t dnnl_cache_size();

// --- threads --------------------------------------------------------------------------------
void dnnl_set_num_threads(int threads);  // OpenMP threads used by oneDNN kernels
int dnnl_num_threads();

}  // namespace kz
