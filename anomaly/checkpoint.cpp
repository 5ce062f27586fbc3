// checkpoint.cpp — saving, loading and checking training checkpoints (see checkpoint.h).
#include "anomaly/checkpoint.h"

#include <cmath>

#include "tensor/build_info.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"

namespace kz {

namespace {

// The format this build writes and the newest it reads; the file also records the kizuki
// version that wrote it (metadata "kizuki_version"), which the refusal of a newer one names.
constexpr int kCheckpointFormat = 1;
constexpr int64_t kMaxExactOrder = int64_t{1} << 24;  // float32 holds integers exactly below

void put_prefixed(std::map<std::string, Tensor>& out, const std::string& prefix,
                  const std::map<std::string, Tensor>& in) {
  for (const auto& [k, t] : in) out[prefix + k] = t;
}

std::map<std::string, Tensor> take_prefixed(const std::map<std::string, Tensor>& all,
                                            const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingCheckpoint& c) {
  std::map<std::string, Tensor> tensors;
  put_prefixed(tensors, "", c.networks);
  put_prefixed(tensors, "optimizer.", c.optimizer);
  const auto n = static_cast<int64_t>(c.next_order.size());
  KZ_CHECK(n < kMaxExactOrder, "checkpoint", "{}: {} images are too many to record", path, n);
  std::vector<float> order(c.next_order.begin(), c.next_order.end());
  tensors["data.order"] = Tensor::from_vector(order, {n});
  nlohmann::json seeds = nlohmann::json::array();
  for (uint64_t s : c.loader_seeds) seeds.push_back(std::to_string(s));  // JSON: exact as text
  save_safetensors(path, tensors,
                   {{"format", "kizuki-checkpoint"},
                    {"format_version", std::to_string(kCheckpointFormat)},
                    {"kizuki_version", kizuki_version()},
                    {"epochs_done", std::to_string(c.epochs_done)},
                    {"train_seconds", fmt::format("{:.17g}", c.train_seconds)},
                    {"loader_seeds", seeds.dump()},
                    {"fingerprint", c.fingerprint.dump()}});
}

TrainingCheckpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(read_file(path), path);
}

TrainingCheckpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
  const Safetensors file = parse_safetensors(bytes, path);
  auto bad = [&](const std::string& what) { fail("checkpoint", path + ": " + what); };
  auto meta = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      bad("not a kizuki checkpoint (no '" + key + "' in its metadata)");
    return it->second;
  };
  if (meta("format") != "kizuki-checkpoint")
    bad("not a kizuki checkpoint (format '" + meta("format") + "')");
  const auto written_by = file.metadata.find("kizuki_version");
  check_format_version("checkpoint", path, meta("format_version"), kCheckpointFormat,
                       written_by == file.metadata.end() ? "" : written_by->second);

  TrainingCheckpoint c;
  try {
    size_t used = 0;
    const std::string e = meta("epochs_done");
    c.epochs_done = std::stoll(e, &used);
    if (used != e.size() || c.epochs_done < 0) bad("epochs_done '" + e + "' is not a count");
    c.train_seconds = std::stod(meta("train_seconds"));
    if (!std::isfinite(c.train_seconds) || c.train_seconds < 0) bad("train_seconds is invalid");
    for (const auto& s : nlohmann::json::parse(meta("loader_seeds"))) {
      const std::string text = s.get<std::string>();
      c.loader_seeds.push_back(std::stoull(text, &used));
      if (used != text.size()) bad("loader seed '" + text + "' is not a number");
    }
    c.fingerprint = nlohmann::json::parse(meta("fingerprint"));
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("its metadata is not valid: ") + e.what());
  } catch (const std::logic_error& e) {  // stoll / stod / stoull
    bad(std::string("its metadata is not valid: ") + e.what());
  }
  auto it = file.tensors.find("data.order");
  if (it == file.tensors.end() || it->second.dim() != 1) bad("no 1-D 'data.order' tensor");
  for (float v : it->second.to_vector()) {
    if (!(v >= 0.0f && v < static_cast<float>(kMaxExactOrder)) || v != std::floor(v))
      bad(fmt::format("'data.order' holds {}, not an image index", v));
    c.next_order.push_back(static_cast<int64_t>(v));
  }
  for (const auto& [name, t] : file.tensors)
    if (name != "data.order" && name.rfind("optimizer.", 0) != 0) c.networks[name] = t;
  c.optimizer = take_prefixed(file.tensors, "optimizer.");
  if (c.networks.empty()) bad("it holds no network weights");
  return c;
}

namespace {

// The first place where two JSON values differ: its path ("methods[0].epochs") and both
// values as text. Objects and arrays are searched member by member.
struct Difference {
  std::string path, there, here;
};
Difference first_difference(const nlohmann::json& there, const nlohmann::json& here,
                            const std::string& path) {
  auto join = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (there.is_object() && here.is_object()) {
    for (const auto& [k, v] : here.items()) {
      if (!there.contains(k)) return {join(k), "missing", v.dump()};
      if (there[k] != v) return first_difference(there[k], v, join(k));
    }
    for (const auto& [k, v] : there.items())
      if (!here.contains(k)) return {join(k), v.dump(), "missing"};
  }
  if (there.is_array() && here.is_array() && there.size() == here.size()) {
    for (size_t i = 0; i < here.size(); ++i)
      if (there[i] != here[i])
        return first_difference(there[i], here[i], fmt::format("{}[{}]", path, i));
  }
  return {path.empty() ? "the settings" : path, there.dump(), here.dump()};
}

}  // namespace

void check_fingerprint(const std::string& path, const nlohmann::json& saved,
                       const nlohmann::json& current) {
  if (saved == current) return;
  const Difference d = first_difference(saved, current, "");
  fail("checkpoint", fmt::format("{} was written by another run: {} is {} there, {} here. "
                                 "Run without --resume to start afresh",
                                 path, d.path, d.there, d.here));
}

}  // namespace kz
