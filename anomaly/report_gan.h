/// \file
/// report_gan.h — what a generative method's training shows besides its scores: the images
/// its generator drew after every epoch (Method::training_samples(), anogan) as one PNG, so
/// a user sees whether the GAN trains at all, and its warnings (Method::training_warnings():
/// mode collapse, a discriminator that wins), and how both reach results.json (per trial:
/// "warnings", "samples") and report.html.
///
/// The sample grid: one row per epoch (top: the first), one column per image, each image
/// zoomed 2× (nearest), 2 white pixels between images and rows; grey or RGB as the images.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "anomaly/results.h"
#include "tensor/tensor.h"

namespace kz {

class Method;

/// A sample grid's picture.
struct SampleGrid {
  std::vector<uint8_t> pixels;  ///< (height, width, channels) bytes
  int64_t height = 0;           ///< of the picture
  int64_t width = 0;            ///< of the picture
  int channels = 1;             ///< 1 (grey) or 3 (RGB)
};
/// Lays out rows of (epoch, (n,C,h,w) images in [0, 1], C = 1 or 3) as the file's
/// description says; an empty list or rows of different shapes throw naming them.
SampleGrid sample_grid(const std::vector<std::pair<int64_t, Tensor>>& rows);

/// The watch on a GAN's known failures after its last epoch (anomaly/methods/anogan.cpp):
/// d_losses and g_losses are the mean discriminator and generator losses of each epoch run,
/// sample_spread and real_spread the mean pairwise distances of G's images of fixed codes and
/// of as many normal training images. Warnings, each naming `method`, the numbers and a
/// remedy:
/// \code{.unparsed}
///   mode collapse      sample_spread < 0.25 · real_spread
///   the discriminator  d_losses.back() < 0.05 and g_losses.back() > g_losses.front()
///   wins
/// \endcode
/// Empty when neither holds (or no epoch ran).
std::vector<std::string> gan_training_warnings(const std::string& method,
                                               const std::vector<double>& d_losses,
                                               const std::vector<double>& g_losses,
                                               double sample_spread, double real_spread);

/// The report's section on the generators (report.html, anomaly/report.cpp): for each
/// (dataset, method, trial) with TrialResult::samples or warnings, its warnings and the
/// figure of its samples; "" when there is none.
std::string training_samples_html(const BenchmarkResults& results);

/// results.json's record of TrialResult::warnings and TrialResult::samples (keys "warnings",
/// "samples", absent when empty, so earlier files read as before), written into a trial's row
/// and read back from it (anomaly/report.cpp calls these).
///@{
void training_notes_to_json(const TrialResult& trial, nlohmann::ordered_json& row);
void training_notes_from_json(const nlohmann::json& row, TrialResult& trial);
///@}

/// Writes the method's training samples (if any) as `OUT_DIR/FILE` with FILE
/// `samples/DATASET-METHOD-trialT.png` (folders made as needed) and returns that relative
/// file name; "" when the method drew none or out_dir is empty.
std::string write_training_samples(const Method& method, const std::string& out_dir,
                                   const std::string& dataset, int trial);

}  // namespace kz
