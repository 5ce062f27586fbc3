/// \file
/// report_curves.h — training_curves.svg: how the features changed while the networks
/// trained (`kizuki benchmark --eval-every N`; anomaly/training_watch.h), beside the report.
///
/// One row of five panels per dataset, each against epochs trained (0 = the untrained
/// network): the test AUC, the proxy AUC (held-out normal against held-out reference images:
/// what --early-stop proxy chooses by), the mean cosine of the centred normal features
/// (toward 1 = collapse), their effective rank, and ‖θ − θ0‖. The AUC panels have one line
/// per method · scorer, the others one per method (they do not depend on the scorer). Each
/// line is the median over the trials that evaluated that epoch, every trial drawn faintly
/// under it; a ring marks the epoch --early-stop proxy kept in each trial.
#pragma once

#include <string>

#include "anomaly/results.h"
#include "anomaly/svg.h"

namespace kz {

/// Whether any trial of `results` has a curve (a run with --eval-every).
bool has_curves(const BenchmarkResults& results);
/// The figure of the file's description (a figure saying "no curves" without any).
Svg curves_figure(const BenchmarkResults& results);
/// curves_figure written atomically as a standalone SVG file.
void write_curves_svg(const std::string& path, const BenchmarkResults& results);

}  // namespace kz
