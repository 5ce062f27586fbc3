/// \file
/// checkpoint.h — training checkpoints: what a method saves at every epoch boundary so that
/// a stopped run (kill -9, power cut, Ctrl-C) continues exactly where it stopped.
///
/// A checkpoint holds every network's state_dict (parameters and BatchNorm buffers, under
/// the network's name: "backbone.", "head.", "autoencoder.", …; anomaly/method.h), the
/// optimizer's state_dict (moments, step counts, learning rates), the number of finished
/// epochs, the training time so far, and the random state. All of kizuki's
/// training randomness is derived from (loader seed, epoch, batch) (data/loader.h), so the
/// random state is the loader seeds plus the epoch; the data order of the next epoch is
/// saved too and checked on resume, which catches a checkpoint resumed on other data.
/// A "fingerprint" — the method's settings, the seed and the data sizes as one JSON object —
/// must match: a checkpoint resumes only the run that wrote it.
///
/// File format: safetensors (tensor/safetensors.h), written atomically (temp file, fsync,
/// rename, fsync of the directory: tensor/file_io.h), so a kill during a write leaves the
/// previous checkpoint intact.
/// \code{.unparsed}
///   tensors   "<network>.<name>" (e.g. "backbone.features.0.0.weight"), "optimizer.<key>",
///             "data.order" (N,)
///   metadata  "format" = "kizuki-checkpoint", "format_version" = "1", "epochs_done",
///             "train_seconds", "loader_seeds" (JSON array of decimal strings),
///             "fingerprint" (JSON)
/// \endcode
/// Loading validates every piece and fails with one line naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/tensor.h"

namespace kz {

/// One checkpoint's contents (see the file's description).
struct TrainingCheckpoint {
  int64_t epochs_done = 0;             ///< the next epoch to run
  double train_seconds = 0.0;          ///< training time spent before this checkpoint
  std::vector<uint64_t> loader_seeds;  ///< the random state (see above)
  std::vector<int64_t> next_order;     ///< data order of epoch `epochs_done`
  nlohmann::json fingerprint;          ///< settings that must match to resume
  std::map<std::string, Tensor> networks;   ///< "<network>.<name>", as Method::state_dict()
  std::map<std::string, Tensor> optimizer;  ///< the optimizer's state_dict
};

void save_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint);  ///< atomic
TrainingCheckpoint load_checkpoint(const std::string& path);  ///< validated; errors name the file
/// The same from the file's bytes (fuzzing); errors name `name_for_errors`.
TrainingCheckpoint parse_checkpoint(const std::string& bytes, const std::string& name_for_errors);

/// Throws "[checkpoint] <path> was written by another run: <key> is <a> there, <b> here"
/// when the fingerprints differ.
void check_fingerprint(const std::string& path, const nlohmann::json& saved,
                       const nlohmann::json& current);

}  // namespace kz
