// process.h — what the long-running commands (benchmark, train) set and report about the
// process as a whole: the thread count, the peak resident memory, and the flags of
// data-parallel training over a group of processes; and the comma lists both read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

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

// "a,b,,c" -> {"a", "b", "c"} (empty parts left out).
std::vector<std::string> split_list(const std::string& text);
// --mlp-widths "64,32" -> {64, 32}; a part that is not a positive integer is an error naming
// `where` ("benchmark", "train") and the part.
std::vector<int64_t> parse_widths(const std::string& text, const std::string& where);

}  // namespace kz
