/// \file
/// svg.h — a tiny SVG 1.1 builder for the benchmark figures: shapes, escaped text, linear
/// scales, "nice" axis ticks and axes. No dependencies; the output is a standalone document
/// (`document()`) or an `<svg>` element to inline in HTML (`element()`).
///
/// Coordinates are SVG user units (pixels), y grows downwards. Attribute strings passed as
/// `attrs` are written as they are (`fill="#fff" stroke="#333"`): they come from kizuki's
/// code, never from user data. Text content and anything derived from data (dataset,
/// method, scorer names) goes through xml_escape.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kz {

/// & < > " ' as entities: safe in SVG/HTML text and in quoted attribute values.
std::string xml_escape(std::string_view s);

/// A coordinate or length: fixed with at most `decimals` digits, trailing zeros dropped
/// ("12.5", "3", "-0.25"); -0 prints as 0.
std::string svg_num(double v, int decimals = 2);

/// Maps the data interval [d0, d1] linearly onto the pixel interval [r0, r1].
struct LinearScale {
  /// The data interval [d0, d1] and the pixel interval [r0, r1]
  ///@{
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  ///@}
  /// The pixel of data value v (not clamped).
  double operator()(double v) const { return r0 + (v - d0) / (d1 - d0) * (r1 - r0); }
};

/// An axis from nice_axis: its ends, tick step, ticks and the digits its labels need.
struct NiceAxis {
  /// The widened ends and the step
  ///@{
  double lo = 0, hi = 1, step = 0.1;
  ///@}
  std::vector<double> ticks;  ///< lo, lo + step, …, hi
  int decimals = 1;           ///< digits the tick labels need
};
/// Ticks at multiples of a step of 1, 2 or 5 × 10^k, chosen so that about `target` ticks
/// cover [lo, hi]; the axis is widened outwards to whole steps. lo < hi required (equal
/// ends are widened by the caller). decimals: digits the tick labels need.
NiceAxis nice_axis(double lo, double hi, int target = 6);

/// Ramer-Douglas-Peucker: the fewest of `points` (first and last always kept) such that no
/// dropped point lies further than `tolerance` from the simplified line. With a tolerance
/// below a pixel the drawing looks the same; a 2000-sample ROC curve shrinks ~10x.
std::vector<std::pair<double, double>> simplify_polyline(
    const std::vector<std::pair<double, double>>& points, double tolerance);

/// The matplotlib "tab10" colours, cycled: colour(0) = "#1f77b4", ...
std::string palette_colour(size_t i);

/// An SVG picture built element by element (see the file's description).
class Svg {
 public:
  Svg(double width, double height);  ///< an empty picture of that size, in pixels

  void line(double x1, double y1, double x2, double y2, std::string_view attrs);  ///< `<line>`
  void rect(double x, double y, double w, double h, std::string_view attrs);  ///< `<rect>`
  void circle(double cx, double cy, double r, std::string_view attrs);  ///< `<circle>`
  /// points as (x, y) pixels; consecutive points equal after rounding are written once.
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view attrs);
  /// content is escaped; attrs may set text-anchor, font-size, font-weight, transform...
  void text(double x, double y, std::string_view content, std::string_view attrs = "");
  /// The same turned 90° anticlockwise about (x, y): a vertical axis label.
  void text_vertical(double x, double y, std::string_view content, std::string_view attrs = "");
  void open_group(std::string_view attrs = "");  ///< `<g attrs>`
  void close_group();                            ///< `</g>`
  void tooltip(std::string_view content);  ///< `<title>content</title>`: of the open element
  void raw(std::string_view markup);  ///< markup appended as it is (kizuki's own, never data)

  /// Vertical axis at pixel x: tick marks, labels and light horizontal grid lines from
  /// grid_x0 to grid_x1 (none when equal). Horizontal axis at pixel y likewise.
  ///@{
  void axis_left(const LinearScale& y, const NiceAxis& axis, double x, double grid_x0,
                 double grid_x1);
  void axis_bottom(const LinearScale& x, const NiceAxis& axis, double y, double grid_y0,
                   double grid_y1);
  ///@}

  double width() const { return width_; }    ///< in pixels
  double height() const { return height_; }  ///< in pixels
  /// `<svg ...>...</svg>`. Inline in HTML5 without the xmlns attribute (the HTML parser puts
  /// `<svg>` in the SVG namespace by itself); a standalone file needs it.
  std::string element(bool with_namespace = true) const;
  std::string document() const;  ///< XML declaration + element(): a standalone .svg file

 private:
  double width_, height_;
  std::string body_;
  int open_groups_ = 0;
};

}  // namespace kz
