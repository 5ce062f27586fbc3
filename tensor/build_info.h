/// \file
/// build_info.h — what this copy of kizuki is: its version, the libraries and compiler it was
/// built with, and the CPU it runs on (the numbers `kizuki info` prints and results.json
/// records); and the one rule for files that carry a format number (model.kz, checkpoints):
/// a file newer than this build reads is refused, naming the version that wrote it.
///
/// For programs that use kizuki as a library (README, "Use kizuki as a library"): compare
/// build_info().kizuki with the version you developed against, or print the whole struct.
#pragma once

#include <string>

namespace kz {

/// What kizuki was built with and runs on, as `kizuki info` prints it.
struct BuildInfo {
  std::string kizuki;     ///< kizuki's version, meson.build's project version: "0.1.0"
  std::string onednn;     ///< the oneDNN library in use: "2.6.3"
  std::string onednn_hash;  ///< its git hash, as oneDNN reports it
  std::string openblas;   ///< OpenBLAS's config string (version, core, threading)
  std::string compiler;   ///< the compiler that built the library: "GCC 12.2.0"
  std::string built_for;  ///< the vector extensions the library was compiled for (-march)
  std::string onednn_isa;  ///< the instruction set oneDNN's kernels use here: "avx512_core_amx"
                           ///< (the CPU's best, or ONEDNN_MAX_CPU_ISA's cap)
  std::string cpu;        ///< the vector extensions of this CPU (/proc/cpuinfo), or "unknown"
};
/// This build's versions and extensions, and this CPU's (reads /proc/cpuinfo once per call).
BuildInfo build_info();
/// build_info().kizuki alone, without asking the libraries or the CPU.
std::string kizuki_version();

/// The format number `text` of `path` (metadata "format_version"), checked against the
/// newest this build reads. A larger number throws "[where] PATH: format_version N is newer
/// than this build reads (up to NEWEST); it was written by kizuki V, this is kizuki W:
/// update kizuki to read it" (`written_by` empty: "an unknown version"); a number below 1 or
/// not a number throws "unsupported format_version".
int check_format_version(const std::string& where, const std::string& path,
                         const std::string& text, int newest, const std::string& written_by);

}  ///< namespace kz
