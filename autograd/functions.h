/// \file
/// functions.h — every differentiable op, one declaration each. The forward and backward
/// of each op live side by side in the .cpp file named in its group's comment.
/// Shapes: x is any shape unless stated; broadcasting follows tensor/ops.h, and gradients of
/// broadcast inputs are summed back to the input's shape.
#pragma once

#include <functional>
#include <span>

#include "autograd/variable.h"
#include "tensor/conv2d.h"
#include "tensor/conv_transpose2d.h"
#include "tensor/generator.h"
#include "tensor/pool2d.h"
#include "tensor/upsample.h"

namespace kz {

// --- autograd/elementwise.cpp ---------------------------------------------------------------
Variable add(const Variable& a, const Variable& b);      ///< a + b
Variable sub(const Variable& a, const Variable& b);      ///< a − b
Variable mul(const Variable& a, const Variable& b);      ///< a · b
Variable div(const Variable& a, const Variable& b);      ///< a / b
Variable maximum(const Variable& a, const Variable& b);  ///< ties: gradient split half/half
Variable minimum(const Variable& a, const Variable& b);  ///< ties: gradient split half/half
Variable add(const Variable& a, float s);                ///< a + s
Variable mul(const Variable& a, float s);                ///< a · s
Variable pow(const Variable& a, float exponent);         ///< a to the power `exponent`
Variable clamp(const Variable& a, float low, float high);  ///< gradient 1 inside [low, high]
Variable neg(const Variable& a);                         ///< −a
Variable exp(const Variable& a);                         ///< e to the power a
Variable log(const Variable& a);                         ///< natural logarithm
Variable sqrt(const Variable& a);                        ///< square root

// --- autograd/reduce.cpp --------------------------------------------------------------------
/// Reductions as tensor/ops.h's: dims empty = all dimensions; keepdim keeps them (size 1);
/// var's correction 1 = unbiased, 0 = population.
///@{
Variable sum(const Variable& a, const Shape& dims = {}, bool keepdim = false);
Variable mean(const Variable& a, const Shape& dims = {}, bool keepdim = false);
Variable var(const Variable& a, const Shape& dims = {}, bool keepdim = false, int correction = 1);
///@}
Variable max(const Variable& a, int64_t dim, bool keepdim = false);  ///< grad to the argmax
Variable min(const Variable& a, int64_t dim, bool keepdim = false);  ///< grad to the argmin

// --- autograd/views.cpp ---------------------------------------------------------------------
/// Views and concatenation as Tensor's methods of the same names (tensor/tensor.h) and
/// tensor/ops.h's cat; gradients flow back through the same view.
///@{
Variable reshape(const Variable& a, const Shape& shape);
Variable permute(const Variable& a, const Shape& dims);
Variable transpose(const Variable& a, int64_t d0, int64_t d1);
Variable narrow(const Variable& a, int64_t dim, int64_t start, int64_t length);
Variable squeeze(const Variable& a, int64_t dim);
Variable unsqueeze(const Variable& a, int64_t dim);
Variable expand(const Variable& a, const Shape& shape);
Variable flatten(const Variable& a, int64_t start_dim = 0, int64_t end_dim = -1);
Variable cat(const std::vector<Variable>& parts, int64_t dim);
///@}

// --- autograd/matmul.cpp --------------------------------------------------------------------
/// a (M,K) @ b (K,N) -> (M,N); batched (B,M,K) @ (B,K,N) as tensor/ops.h matmul.
Variable matmul(const Variable& a, const Variable& b);
/// x (N,in) @ weight(out,in)^T + bias(out) -> (N,out); bias may be undefined.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);

// --- autograd/softmax.cpp -------------------------------------------------------------------
/// log_softmax along dim, computed as x - max - log(sum(exp(x - max))) (stable).
Variable log_softmax(const Variable& x, int64_t dim);
Variable softmax(const Variable& x, int64_t dim);  ///< exp(log_softmax(x, dim))
/// Mean negative log-likelihood of class indices. logits (N,C); targets N ints in [0, C).
/// label_smoothing ε mixes the one-hot target with the uniform 1/C, as PyTorch's.
Variable cross_entropy(const Variable& logits, const std::vector<int64_t>& targets,
                       float label_smoothing = 0.0f);

// --- autograd/conv2d.cpp (kernels in tensor/conv2d.h) ---------------------------------------
/// x (N,C,H,W), weight (O,C/groups,kH,kW), bias (O) or undefined -> (N,O,OH,OW).
Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias,
                const Conv2dParams& p);

// --- autograd/conv_transpose2d.cpp (kernels in tensor/conv_transpose2d.h) -------------------
/// x (N,C,H,W), weight (C,O/groups,kH,kW) as PyTorch's, bias (O) or undefined -> (N,O,OH,OW),
/// OH = (H−1)·stride − 2·padding + kH + output_padding.
Variable conv_transpose2d(const Variable& x, const Variable& weight, const Variable& bias,
                          const ConvTranspose2dParams& p);

// --- autograd/batch_norm.cpp (kernels in tensor/batch_norm.h) -------------------------------
/// x (N,C,H,W); weight, bias (C); running stats (C) are updated in place when training.
Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                    float eps);

// --- autograd/sync_batch_norm.cpp (data-parallel training's batch norm) ----------------------
/// Sums per-channel statistics over the processes of a data-parallel run, in place (the
/// same call, the same length, on every process; the identity for one process).
using StatSum = std::function<void(std::span<float>)>;
/// batch_norm in training mode with statistics of the whole global batch spread over the
/// processes (synchronised batch norm, PyTorch's SyncBatchNorm): the forward sums Σx, the
/// count, then Σ(x − μ)² through `sum`; the backward Σdy and Σdy·x̂, so dx is that of one
/// process on the whole batch. dweight, dbias are this process's own sums (the gradient
/// exchange adds them up). Running stats updated with the global statistics.
Variable sync_batch_norm(const Variable& x, const Variable& weight, const Variable& bias,
                         Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                         const StatSum& sum);

// --- autograd/activations.cpp ---------------------------------------------------------------
Variable relu(const Variable& x);    ///< max(x, 0); gradient 1 where x > 0
Variable relu6(const Variable& x);  ///< min(max(x, 0), 6); gradient 1 on (0, 6)
Variable sigmoid(const Variable& x);  ///< 1/(1 + e^−x); backward from the saved output
Variable tanh(const Variable& x);     ///< backward from the saved output: 1 − y²
/// x for x > 0, else negative_slope·x; gradient negative_slope at x = 0 (PyTorch's).
Variable leaky_relu(const Variable& x, float negative_slope = 0.01f);
/// log(1 + e^(βx))/β, and x itself where β·x > threshold (PyTorch's); β finite, nonzero.
Variable softplus(const Variable& x, float beta = 1.0f, float threshold = 20.0f);

// --- autograd/pooling.cpp -------------------------------------------------------------------
Variable global_avg_pool2d(const Variable& x);  ///< (N,C,H,W) -> (N,C)
/// (N,C,H,W) -> (N,C,OH,OW), floor mode; gradient to each window's first maximum.
Variable max_pool2d(const Variable& x, const MaxPool2dParams& p);
/// Inverted dropout: zero with probability p, scale kept ones by 1/(1−p); identity in eval.
Variable dropout(const Variable& x, float p, bool training, Generator& gen);

// --- autograd/pad2d.cpp ---------------------------------------------------------------------
/// x (N,C,H,W) -> (N,C,H+top+bottom,W+left+right), mirrored with the edge pixel repeated
/// (d c b a | a b c d: numpy 'symmetric', scipy.ndimage 'reflect'; not PyTorch's 'reflect').
Variable pad2d_symmetric(const Variable& x, int64_t pad_top, int64_t pad_bottom,
                         int64_t pad_left, int64_t pad_right);

// --- autograd/upsample.cpp (kernels in tensor/upsample.h) -----------------------------------
/// (N,C,H,W) -> (N,C,out_h,out_w), nearest or bilinear (align_corners = false), as
/// F.interpolate(size=(out_h, out_w)); scale_h, scale_w > 0 give the source step 1/scale as
/// F.interpolate(scale_factor=…) does (layers/simple.h Upsample).
Variable upsample2d(const Variable& x, int64_t out_h, int64_t out_w, UpsampleMode mode,
                    double scale_h = 0, double scale_w = 0);

}  // namespace kz
