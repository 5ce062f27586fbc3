// process.h — what the long-running commands (benchmark, train, openset) set and report
// about the process as a whole: the thread count, the peak resident memory, live progress,
// the flags of data-parallel training over a group of processes and the training flags they
// share; and the comma lists they read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "anomaly/method.h"

namespace kz {

// --threads T: oneDNN and kizuki's kernels (OpenMP) and OpenBLAS all use T threads, so
// they never oversubscribe the cores; the data loader adds one prefetch thread that
// builds the next batch while they compute. T <= 0 leaves the defaults (OMP_NUM_THREADS,
// else every core).
void set_threads(int threads);

// Peak resident memory of the process so far (getrusage ru_maxrss), in bytes.
int64_t peak_rss_bytes();
// "1.23 GiB" / "456.7 MiB".
std::string format_bytes(int64_t bytes);

// --data-parallel, --sync-bn and --bucket-mb on `cmd` (kizuki benchmark and train), read
// into the three fields (defaults: off, off, 4 MiB).
void add_data_parallel_flags(CLI::App* cmd, bool& data_parallel, bool& sync_bn, double& bucket_mb);

// Live progress on a terminal: stderr is one and CI is unset. A pipe or CI gets no
// per-batch lines.
bool interactive();
// "3m07s", or "2h05m" from an hour on.
std::string format_duration(double seconds);
// A path as the settings record it: absolute and normalised, so that runs (and resumed runs)
// started from different folders, or with different spellings of one path, compare equal.
// Empty stays empty.
std::string recorded_path(const std::string& path);
// "epoch 2/10 batch 5/8 loss 0.1234 850 img/s ETA 1m02s": one batch of training, with the
// time left at the run's pace so far.
std::string progress_line(const TrainProgress& p);

// The training flags that override a preset: --image-size, --width, --epochs, --batch, --lr
// (0: the preset's).
struct TrainingFlags {
  int64_t image_size = 0, epochs = 0, batch = 0;
  double width = 0.0, lr = 0.0;
};
// Adds the five flags to `cmd`, read into `f`.
void add_training_flags(CLI::App* cmd, TrainingFlags& f);
// Puts the flags given (non-zero) into the method's options.
void apply_training_flags(const TrainingFlags& f, MethodOptions& m);

// "a,b,,c" -> {"a", "b", "c"} (empty parts left out).
std::vector<std::string> split_list(const std::string& text);
// --mlp-widths "64,32" -> {64, 32}; a part that is not a positive integer is an error naming
// `where` ("benchmark", "train") and the part.
std::vector<int64_t> parse_widths(const std::string& text, const std::string& where);

}  // namespace kz
