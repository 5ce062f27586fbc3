// example.h — what the teaching examples share: their flags, small data sets (a Fashion-MNIST
// subset as flat vectors, a 2-D toy set), and a scatter-plot panel drawn with anomaly/svg.h.
//
// Shape letters: N samples, D = 784 pixels of a 28×28 image (flattened), 2 = a point's (x, y).
//
// Every example takes the same flags:
//   --tiny      a few seconds of work (the tests run each example this way)
//   --out DIR   where its figures and tables go (default: the current folder)
// and prints what it computes as it goes. main() is one line: run_example(...), which turns
// a kz::Error into one message on stderr and exit status 1.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "anomaly/svg.h"
#include "data/fashion_mnist.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "tensor/file_io.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace kz::example {

struct Args {
  bool tiny = false;
  std::string out = ".";
  std::string path(const std::string& file) const { return out + "/" + file; }
};

// Parses the flags, creates --out, runs `body`. Returns main's exit status.
inline int run_example(int argc, char** argv, const char* name,
                       const std::function<int(const Args&)>& body) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tiny") {
      args.tiny = true;
    } else if (a == "--out" && i + 1 < argc) {
      args.out = argv[++i];
    } else {
      std::fprintf(stderr, "%s: %s '%s'\nusage: %s [--tiny] [--out DIR]\n", name,
                   a == "--out" ? "a folder must follow" : "unknown argument", a.c_str(), name);
      return 2;
    }
  }
  try {
    std::filesystem::create_directories(args.out);
    return body(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

// Writes a text file (atomically) and says so.
inline void save_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, text);
  std::printf("wrote %s\n", path.c_str());
}

// --- data ----------------------------------------------------------------------------------

// Images of some classes as flat rows: x (N,D) with pixels scaled to [0, 1]; label i is the
// position of the image's class in `classes`. per_class images of each, drawn at random.
struct FlatSet {
  Tensor x;
  std::vector<int64_t> labels;
};

inline FlatSet flat_subset(const ImageDataset& split, const std::vector<int64_t>& classes,
                           int64_t per_class, Generator& gen) {
  std::vector<int64_t> pick, labels;
  for (size_t c = 0; c < classes.size(); ++c) {
    const std::vector<int64_t> all = split.indices_of_class(classes[c]);
    const std::vector<int64_t> order = random_permutation(static_cast<int64_t>(all.size()), gen);
    for (int64_t i = 0; i < per_class && i < static_cast<int64_t>(all.size()); ++i) {
      pick.push_back(all[order[i]]);
      labels.push_back(static_cast<int64_t>(c));
    }
  }
  const ImageDataset sub = split.subset(pick);
  Tensor x = sub.to_tensor().reshape({sub.size(), sub.image_numel()});
  return {mul(x, 1.0f / 255.0f), labels};
}

// True when Debian's Fashion-MNIST files are there; otherwise says the example skips.
inline bool have_fashion_mnist(const char* name) {
  if (std::filesystem::exists(std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz"))
    return true;
  std::printf("%s: skipped: Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist)\n",
              name, kFashionMnistDir);
  return false;
}

// A 2-D toy set for LOF: a dense cluster of n_dense points around (−2, 0) (σ 0.35), a
// sparse one of n_sparse around (2, 1) (σ 1.0), and n_far points uniform in the box
// [−5, 6] × [−4, 5] (anomalies, when asked for). x is (N,2).
inline Tensor two_clusters(int64_t n_dense, int64_t n_sparse, int64_t n_far, Generator& gen) {
  std::vector<float> v;
  for (int64_t i = 0; i < n_dense; ++i)
    v.insert(v.end(), {-2.0f + 0.35f * gen.normal(), 0.35f * gen.normal()});
  for (int64_t i = 0; i < n_sparse; ++i)
    v.insert(v.end(), {2.0f + gen.normal(), 1.0f + gen.normal()});
  for (int64_t i = 0; i < n_far; ++i)
    v.insert(v.end(), {gen.uniform(-5.0f, 6.0f), gen.uniform(-4.0f, 5.0f)});
  return Tensor::from_vector(v, {n_dense + n_sparse + n_far, 2});
}

// The small network of the loss examples: 28×28 pixels to a 2-D feature.
// x (N,784) -> (N,128) -> (N,32) -> (N,2), ReLU between the Linear layers.
inline std::shared_ptr<Sequential> mlp_to_2d(Generator& gen) {
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Linear>(784, 128, true, gen));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<Linear>(128, 32, true, gen));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<Linear>(32, 2, true, gen));
  return net;
}

// One epoch's mini-batches: a random order of 0..n-1 cut into runs of `batch` (last shorter).
inline std::vector<std::vector<int64_t>> batches(int64_t n, int64_t batch, Generator& gen) {
  const std::vector<int64_t> order = random_permutation(n, gen);
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < n; i += batch)
    out.emplace_back(order.begin() + i, order.begin() + std::min(n, i + batch));
  return out;
}

// --- drawing -------------------------------------------------------------------------------

// A square-ish plotting area inside an Svg: data coordinates -> pixels, with axes.
struct Panel {
  LinearScale x, y;
  NiceAxis ax, ay;
};

// Frames a panel at pixel box (left, top, w, h) showing data [x0,x1] × [y0,y1] (widened to
// nice ticks, about `ticks` per axis), with axes, grid and a title above.
inline Panel panel(Svg& svg, double left, double top, double w, double h, double x0, double x1,
                   double y0, double y1, const std::string& title, int ticks = 6) {
  Panel p;
  p.ax = nice_axis(x0, x1, ticks);
  p.ay = nice_axis(y0, y1, ticks);
  p.x = {p.ax.lo, p.ax.hi, left, left + w};
  p.y = {p.ay.lo, p.ay.hi, top + h, top};
  svg.axis_left(p.y, p.ay, left, left, left + w);
  svg.axis_bottom(p.x, p.ax, top + h, top, top + h);
  svg.text(left + w / 2, top - 10, title, R"(text-anchor="middle" font-size="14")");
  return p;
}

// The centres of an nx × ny grid of cells covering a panel, (ny·nx, 2), row by row from
// the bottom: the places where a model is evaluated to shade the plane.
inline Tensor grid_points(const Panel& p, int nx, int ny) {
  std::vector<float> v;
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j < nx; ++j)
      v.insert(v.end(), {static_cast<float>(p.ax.lo + (j + 0.5) * (p.ax.hi - p.ax.lo) / nx),
                         static_cast<float>(p.ay.lo + (i + 0.5) * (p.ay.hi - p.ay.lo) / ny)});
  return Tensor::from_vector(v, {int64_t{nx} * ny, 2});
}

// Shades the grid_points cells with fill colours (ny·nx of them, same order); neighbouring
// cells of one colour in a row are drawn as one rectangle, which keeps the file small.
inline void shade_grid(Svg& svg, const Panel& p, int nx, int ny,
                       const std::vector<std::string>& fill) {
  const double w = (p.x(p.ax.hi) - p.x(p.ax.lo)) / nx, h = (p.y(p.ay.lo) - p.y(p.ay.hi)) / ny;
  for (int i = 0; i < ny; ++i)
    for (int j = 0, run; j < nx; j += run) {
      for (run = 1; j + run < nx && fill[i * nx + j + run] == fill[i * nx + j];) ++run;
      svg.rect(p.x(p.ax.lo) + j * w, p.y(p.ay.lo) - (i + 1) * h, run * w + 1, h + 1,
               "fill=\"" + fill[i * nx + j] + "\"");
    }
}

// A colour between white (t = 0) and `rgb` (t = 1), t rounded to sixteenths.
inline std::string tint(double t, int r, int g, int b) {
  const double q = std::round(std::clamp(t, 0.0, 1.0) * 16) / 16;
  auto mix = [q](int c) { return static_cast<int>(std::lround(255 - (255 - c) * q)); };
  return fmt::format("rgb({},{},{})", mix(r), mix(g), mix(b));
}

// Points (N,2) as dots coloured by label (palette_colour), drawn into a panel; points
// outside the panel's range are left out.
inline void scatter(Svg& svg, const Panel& p, const Tensor& points,
                    const std::vector<int64_t>& labels, double radius = 2.0,
                    const std::string& extra = R"(fill-opacity="0.55")") {
  const std::vector<float> v = points.to_vector();
  for (size_t i = 0; i < labels.size(); ++i) {
    const double x = v[2 * i], y = v[2 * i + 1];
    if (x < p.ax.lo || x > p.ax.hi || y < p.ay.lo || y > p.ay.hi) continue;  // off the panel
    svg.circle(p.x(x), p.y(y), radius,
               "fill=\"" + palette_colour(static_cast<size_t>(labels[i])) + "\" " + extra);
  }
}

// A rose diagram centred at (cx, cy): for each class c, how many of the points (N,2) with
// label c point in each 5° sector of direction, as a petal whose radius is the count (the
// largest count reaches `radius`); dashed rays are the directions of the rows of weight (C,2).
inline void rose(Svg& svg, double cx, double cy, double radius, const Tensor& points,
                 const std::vector<int64_t>& labels, const Tensor& weight) {
  const int bins = 72;
  const int64_t c = weight.size(0);
  std::vector<double> count(c * bins);
  const std::vector<float> f = points.to_vector(), w = weight.to_vector();
  for (size_t i = 0; i < labels.size(); ++i) {
    const double a = std::atan2(f[2 * i + 1], f[2 * i]) + M_PI;  // [0, 2π]
    count[labels[i] * bins + std::min(bins - 1, static_cast<int>(a / (2 * M_PI) * bins))] += 1;
  }
  const double top = *std::max_element(count.begin(), count.end());
  svg.circle(cx, cy, radius, R"(fill="none" stroke="#ccc")");
  for (int64_t j = 0; j < c; ++j) {
    const std::string colour = palette_colour(static_cast<size_t>(j));
    const double norm = std::hypot(w[2 * j], w[2 * j + 1]);
    svg.line(cx, cy, cx + radius * w[2 * j] / norm, cy - radius * w[2 * j + 1] / norm,
             "stroke=\"" + colour + "\" stroke-dasharray=\"5,3\"");
    std::string pts;  // each sector as an arc's two ends at the sector's count
    for (int b = 0; b <= bins; ++b)
      for (int edge = 0; edge < 2; ++edge) {
        const double a = (b % bins + edge) * 2 * M_PI / bins - M_PI;
        const double len = radius * count[j * bins + b % bins] / top;
        pts += svg_num(cx + len * std::cos(a)) + "," + svg_num(cy - len * std::sin(a)) + " ";
      }
    svg.raw("<polygon points=\"" + pts + "\" fill=\"" + colour +
            "\" fill-opacity=\"0.45\" stroke=\"" + colour + "\" stroke-width=\"0.8\"/>\n");
  }
}

// A legend: one coloured dot (palette_colour(i)) and name per entry, in a column from
// (left, top), or in a row with `dx` pixels per entry when dx > 0.
inline void legend(Svg& svg, double left, double top, const std::vector<std::string>& names,
                   double dx = 0) {
  for (size_t i = 0; i < names.size(); ++i) {
    const double x = left + dx * i, y = dx > 0 ? top : top + 18 * i;
    svg.circle(x + 5, y - 4, 5, "fill=\"" + palette_colour(i) + "\"");
    svg.text(x + 15, y, names[i], R"(font-size="12")");
  }
}

}  // namespace kz::example
