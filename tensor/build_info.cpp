// build_info.cpp — versions, compiler, CPU features, and the format-number check (see
// build_info.h).
#include "tensor/build_info.h"

#include <fstream>
#include <set>
#include <sstream>

#include <dnnl.hpp>
#include <fmt/format.h>

#include "tensor/blas.h"
#include "tensor/error.h"

namespace kz {

namespace {

// The vector-extension flags of /proc/cpuinfo that matter for kernels.
std::string cpu_vector_extensions() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  const std::set<std::string> wanted{"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                     "avx512vl", "avx512_bf16", "avx512_vnni", "amx_tile"};
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w, found;
    while (words >> w)
      if (wanted.count(w)) found += (found.empty() ? "" : " ") + w;
    return found;
  }
  return "unknown";
}

// The same extensions as the compiler saw them when it built this file (-march=native).
std::string compiled_extensions() {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  bool sse4_2 = false, avx = false, avx2 = false, fma = false, avx512f = false, avx512bw = false,
       avx512vl = false;
#ifdef __SSE4_2__
  sse4_2 = true;
#endif
#ifdef __AVX__
  avx = true;
#endif
#ifdef __AVX2__
  avx2 = true;
#endif
#ifdef __FMA__
  fma = true;
#endif
#ifdef __AVX512F__
  avx512f = true;
#endif
#ifdef __AVX512BW__
  avx512bw = true;
#endif
#ifdef __AVX512VL__
  avx512vl = true;
#endif
  add(sse4_2, "sse4_2");
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  return s.empty() ? "baseline x86-64" : s;
}

// The instruction set oneDNN dispatches to on this CPU (capped by ONEDNN_MAX_CPU_ISA).
std::string onednn_isa() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "baseline";
  }
}

std::string compiler_name() {
#if defined(__clang__)
  return fmt::format("Clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

}  // namespace

std::string kizuki_version() { return KIZUKI_VERSION; }

BuildInfo build_info() {
  const dnnl_version_t* v = dnnl_version();
  BuildInfo b;
  b.kizuki = kizuki_version();
  b.onednn = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  b.onednn_hash = v->hash;
  b.openblas = blas_info();
  b.compiler = compiler_name();
  b.built_for = compiled_extensions();
  b.onednn_isa = onednn_isa();
  b.cpu = cpu_vector_extensions();
  return b;
}

int check_format_version(const std::string& where, const std::string& path,
                         const std::string& text, int newest, const std::string& written_by) {
  const bool digits = !text.empty() && text.size() <= 6 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const int version = digits ? std::stoi(text) : 0;
  if (version < 1) fail(where, fmt::format("{}: unsupported format_version '{}'", path, text));
  if (version > newest)
    fail(where, fmt::format("{}: format_version {} is newer than this build reads (up to {}); "
                            "it was written by kizuki {}, this is kizuki {}: update kizuki "
                            "to read it",
                            path, version, newest,
                            written_by.empty() ? "of an unknown version" : written_by,
                            KIZUKI_VERSION));
  return version;
}

}  // namespace kz
