// fuzz_model.cpp — libFuzzer target for model.kz files and training checkpoints
// (anomaly/model_file.h parse_model, anomaly/checkpoint.h parse_checkpoint): the safetensors
// container, the metadata and its JSON config, and every check between the config, the
// backbone, the head, the scaler and the scorer.
//
// Any byte string must either load or throw kz::Error; a crash, a sanitizer report, a hang
// or any other exception is a bug. Built and run by scripts/fuzz.sh (corpus: fuzz/corpus/model,
// a tiny model.kz and a tiny checkpoint).
#include <cstddef>
#include <cstdint>
#include <string>

#include "anomaly/checkpoint.h"
#include "anomaly/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const kz::AnomalyModel m = kz::parse_model(bytes, "fuzz");
    (void)m.threshold;
  } catch (const kz::Error&) {
  }
  try {
    const kz::TrainingCheckpoint c = kz::parse_checkpoint(bytes, "fuzz");
    (void)c.epochs_done;
  } catch (const kz::Error&) {
  }
  return 0;
}
