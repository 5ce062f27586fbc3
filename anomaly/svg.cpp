// svg.cpp — the SVG builder of svg.h.
#include "anomaly/svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tensor/error.h"

namespace kz {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "\xEF\xBF\xBD";  // U+FFFD
        else
          out += c;
    }
  }
  return out;
}

std::string svg_num(double v, int decimals) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

NiceAxis nice_axis(double lo, double hi, int target) {
  KZ_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "svg",
           "nice_axis needs finite lo < hi, got [{}, {}]", lo, hi);
  const double rough = (hi - lo) / std::max(1, target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(rough)));
  const double norm = rough / mag;
  NiceAxis a;
  a.step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const double first = std::floor(lo / a.step + 1e-9), last = std::ceil(hi / a.step - 1e-9);
  a.lo = first * a.step;
  a.hi = last * a.step;
  for (double k = first; k <= last + 0.5; k += 1) a.ticks.push_back(k * a.step);
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(a.step) + 1e-9)));
  return a;
}

std::vector<std::pair<double, double>> simplify_polyline(
    const std::vector<std::pair<double, double>>& points, double tolerance) {
  if (points.size() < 3) return points;
  // Distance from p to the segment a-b.
  auto distance = [](const auto& p, const auto& a, const auto& b) {
    const double dx = b.first - a.first, dy = b.second - a.second, len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((p.first - a.first) * dx + (p.second - a.second) * dy) / len2 : 0;
    t = std::clamp(t, 0.0, 1.0);
    return std::hypot(p.first - a.first - t * dx, p.second - a.second - t * dy);
  };
  std::vector<char> keep(points.size(), 0);
  keep.front() = keep.back() = 1;
  std::vector<std::pair<size_t, size_t>> todo = {{0, points.size() - 1}};  // no recursion
  while (!todo.empty()) {
    const auto [a, b] = todo.back();
    todo.pop_back();
    double worst = -1;
    size_t at = a;
    for (size_t i = a + 1; i < b; ++i) {
      const double d = distance(points[i], points[a], points[b]);
      if (d > worst) worst = d, at = i;
    }
    if (worst > tolerance) {
      keep[at] = 1;
      todo.emplace_back(a, at);
      todo.emplace_back(at, b);
    }
  }
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < points.size(); ++i)
    if (keep[i]) out.push_back(points[i]);
  return out;
}

std::string palette_colour(size_t i) {
  static constexpr const char* kTab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                           "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                           "#bcbd22", "#17becf"};
  return kTab10[i % 10];
}

Svg::Svg(double width, double height) : width_(width), height_(height) {
  rect(0, 0, width, height, R"(fill="#ffffff")");
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view attrs) {
  body_ += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>)", svg_num(x1),
                       svg_num(y1), svg_num(x2), svg_num(y2), attrs) + "\n";
}

void Svg::rect(double x, double y, double w, double h, std::string_view attrs) {
  body_ += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" {}/>)", svg_num(x),
                       svg_num(y), svg_num(std::max(0.0, w)), svg_num(std::max(0.0, h)),
                       attrs) + "\n";
}

void Svg::circle(double cx, double cy, double r, std::string_view attrs) {
  body_ += fmt::format(R"(<circle cx="{}" cy="{}" r="{}" {}/>)", svg_num(cx), svg_num(cy),
                       svg_num(r), attrs) + "\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points,
                   std::string_view attrs) {
  std::string pts, last;
  for (const auto& [x, y] : points) {
    std::string p = svg_num(x, 1) + "," + svg_num(y, 1);
    if (p == last) continue;
    if (!pts.empty()) pts += ' ';
    pts += p;
    last = std::move(p);
  }
  body_ += fmt::format(R"(<polyline points="{}" fill="none" {}/>)", pts, attrs) + "\n";
}

void Svg::text(double x, double y, std::string_view content, std::string_view attrs) {
  body_ += fmt::format(R"(<text x="{}" y="{}" {}>{}</text>)", svg_num(x), svg_num(y), attrs,
                       xml_escape(content)) + "\n";
}

void Svg::text_vertical(double x, double y, std::string_view content, std::string_view attrs) {
  text(x, y, content,
       fmt::format(R"x({} transform="rotate(-90 {} {})")x", attrs, svg_num(x), svg_num(y)));
}

void Svg::open_group(std::string_view attrs) {
  body_ += fmt::format("<g {}>\n", attrs);
  ++open_groups_;
}

void Svg::close_group() {
  KZ_ASSERT(open_groups_ > 0);
  body_ += "</g>\n";
  --open_groups_;
}

void Svg::tooltip(std::string_view content) {
  body_ += "<title>" + xml_escape(content) + "</title>\n";
}

void Svg::raw(std::string_view markup) { body_ += markup; }

void Svg::axis_left(const LinearScale& y, const NiceAxis& axis, double x, double grid_x0,
                    double grid_x1) {
  for (double t : axis.ticks) {
    const double py = y(t);
    if (grid_x1 != grid_x0)
      line(grid_x0, py, grid_x1, py, R"(stroke="#e6e6e6" stroke-width="1")");
    line(x - 4, py, x, py, R"(stroke="#333" stroke-width="1")");
    text(x - 7, py + 3.5, fmt::format("{:.{}f}", t, axis.decimals),
         R"(text-anchor="end" font-size="11" fill="#333")");
  }
  line(x, y(axis.lo), x, y(axis.hi), R"(stroke="#333" stroke-width="1")");
}

void Svg::axis_bottom(const LinearScale& x, const NiceAxis& axis, double y, double grid_y0,
                      double grid_y1) {
  for (double t : axis.ticks) {
    const double px = x(t);
    if (grid_y1 != grid_y0)
      line(px, grid_y0, px, grid_y1, R"(stroke="#e6e6e6" stroke-width="1")");
    line(px, y, px, y + 4, R"(stroke="#333" stroke-width="1")");
    text(px, y + 16, fmt::format("{:.{}f}", t, axis.decimals),
         R"(text-anchor="middle" font-size="11" fill="#333")");
  }
  line(x(axis.lo), y, x(axis.hi), y, R"(stroke="#333" stroke-width="1")");
}

std::string Svg::element(bool with_namespace) const {
  KZ_ASSERT(open_groups_ == 0);
  return fmt::format(
             R"(<svg {}version="1.1" width="{}" height="{}" viewBox="0 0 {} {}" )"
             R"(font-family="DejaVu Sans, Helvetica, Arial, sans-serif">)",
             with_namespace ? R"(xmlns="http://www.w3.org/2000/svg" )" : "", svg_num(width_),
             svg_num(height_), svg_num(width_), svg_num(height_)) +
         "\n" + body_ + "</svg>\n";
}

std::string Svg::document() const {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n" + element();
}

}  // namespace kz
