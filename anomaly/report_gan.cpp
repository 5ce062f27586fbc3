// report_gan.cpp — a generative method's sample grid (see report_gan.h).
#include "anomaly/report_gan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <set>
#include <tuple>

#include "anomaly/method.h"
#include "anomaly/svg.h"
#include "data/image_write.h"

namespace kz {

SampleGrid sample_grid(const std::vector<std::pair<int64_t, Tensor>>& rows) {
  KZ_CHECK(!rows.empty(), "sample_grid", "no rows of images");
  const Shape shape = rows.front().second.shape();
  KZ_CHECK(shape.size() == 4 && (shape[1] == 1 || shape[1] == 3) && shape[0] >= 1, "sample_grid",
           "expected (n,1|3,h,w) images, got {}", shape_str(shape));
  for (const auto& row : rows)
    KZ_CHECK(row.second.shape() == shape, "sample_grid",
             "the images of epoch {} are {}, those of the first row {}", row.first,
             shape_str(row.second.shape()), shape_str(shape));
  constexpr int64_t kZoom = 2, kGap = 2;
  const int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  SampleGrid g;
  g.channels = static_cast<int>(c);
  g.height = static_cast<int64_t>(rows.size()) * (h * kZoom + kGap) - kGap;
  g.width = n * (w * kZoom + kGap) - kGap;
  g.pixels.assign(static_cast<size_t>(g.height * g.width * c), 255);
  for (size_t r = 0; r < rows.size(); ++r) {
    const Tensor t = rows[r].second.contiguous();
    const float* p = t.data();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h * kZoom; ++y)
          for (int64_t x = 0; x < w * kZoom; ++x) {
            const float v = p[((i * c + ch) * h + y / kZoom) * w + x / kZoom];
            const int64_t py = static_cast<int64_t>(r) * (h * kZoom + kGap) + y;
            const int64_t px = i * (w * kZoom + kGap) + x;
            const float clipped = std::isfinite(v) ? std::clamp(v, 0.0f, 1.0f) : 0.0f;
            g.pixels[static_cast<size_t>((py * g.width + px) * c + ch)] =
                static_cast<uint8_t>(std::lround(clipped * 255.0f));
          }
  }
  return g;
}

std::vector<std::string> gan_training_warnings(const std::string& method,
                                               const std::vector<double>& d_losses,
                                               const std::vector<double>& g_losses,
                                               double sample_spread, double real_spread) {
  std::vector<std::string> w;
  if (d_losses.empty() || g_losses.empty()) return w;
  if (sample_spread < 0.25 * real_spread)
    w.push_back(fmt::format(
        "{}: mode collapse — G's images of fixed codes are {:.3g} apart on average, the normal "
        "training images {:.3g}: G draws (almost) one image whatever z, and the latent search "
        "cannot fit the test images; try a smaller --lr or more epochs",
        method, sample_spread, real_spread));
  if (d_losses.back() < 0.05 && g_losses.back() > g_losses.front())
    w.push_back(fmt::format(
        "{}: the discriminator wins — its loss fell to {:.3g} while G's grew from {:.3g} to "
        "{:.3g}: G gets no useful gradient and its images are not the normal class; try a "
        "smaller --lr or fewer epochs",
        method, d_losses.back(), g_losses.front(), g_losses.back()));
  return w;
}

std::string training_samples_html(const BenchmarkResults& results) {
  std::set<std::tuple<std::string, std::string, int>> seen;
  std::string h;
  for (const TrialResult& t : results.trials) {
    if ((t.samples.empty() && t.warnings.empty()) ||
        !seen.emplace(t.dataset, t.method, t.trial).second)
      continue;
    const std::string caption = xml_escape(t.dataset) + ", <code>" + xml_escape(t.method) +
                                "</code>, trial " + std::to_string(t.trial);
    for (const std::string& w : t.warnings)
      h += "<p><strong>Warning</strong> (" + caption + "): " + xml_escape(w) + "</p>\n";
    if (t.samples.empty()) continue;
    h += "<figure>\n<img src=\"" + xml_escape(t.samples) + "\" alt=\"generator samples of " +
         xml_escape(t.method) + "\">\n<figcaption>" + caption +
         ": the generator's images of 16 fixed codes after each epoch (one row per epoch, the "
         "first on top).</figcaption>\n</figure>\n";
  }
  if (h.empty()) return h;
  return "<h2>What the generators draw</h2>\n<p>Whether a GAN trains at all: images of the "
         "normal class in the last row, not noise and not one image repeated; a GAN's known "
         "failures (mode collapse, a discriminator that wins) are warned about.</p>\n" + h;
}

void training_notes_to_json(const TrialResult& trial, nlohmann::ordered_json& row) {
  if (!trial.warnings.empty()) row["warnings"] = trial.warnings;
  if (!trial.samples.empty()) row["samples"] = trial.samples;
}

void training_notes_from_json(const nlohmann::json& row, TrialResult& trial) {
  trial.warnings = row.value("warnings", std::vector<std::string>{});
  trial.samples = row.value("samples", std::string());
}

std::string write_training_samples(const Method& method, const std::string& out_dir,
                                   const std::string& dataset, int trial) {
  const std::vector<std::pair<int64_t, Tensor>> rows = method.training_samples();
  if (rows.empty() || out_dir.empty()) return "";
  const std::string file =
      "samples/" + dataset + "-" + method.name() + "-trial" + std::to_string(trial) + ".png";
  std::filesystem::create_directories(out_dir + "/samples");
  const SampleGrid g = sample_grid(rows);
  write_png(out_dir + "/" + file, g.pixels, g.height, g.width, g.channels);
  return file;
}

}  // namespace kz
