// safetensors.cpp — read and write safetensors files (layout in safetensors.h).
//
// Reading trusts nothing: the 8-byte length, the JSON header and every entry's dtype,
// shape and data_offsets are checked against the file before a byte of data is copied.
// Shapes are products of int64 dimensions; every product is overflow-checked, and a
// tensor's byte count must equal numel * dtype size exactly, so no allocation can exceed
// the size of the file. Errors are one line: "[safetensors] <file>: <what is wrong>".
#include "tensor/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "tensor/file_io.h"

namespace kz {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; kizuki reads it in place");

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // 100 MB, as the reference reader
constexpr int kMaxJsonDepth = 16;                  // a valid header nests 3 deep

std::string in_quotes(std::string_view name) {
  std::string out(1, '\'');  // built by appending: g++ 12 -O2 misfires -Wrestrict on "'" + s
  out += printable(name);
  out += '\'';
  return out;
}

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  fail("safetensors", printable(file, 1024) + ": " + what);
}

struct DType {
  const char* name;
  int64_t size;  // bytes per element
};
constexpr DType kDTypes[] = {{"F32", 4}, {"I32", 4}, {"I64", 8}, {"U8", 1}};

const DType* find_dtype(const std::string& name) {
  for (const DType& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// Deepest nesting of [ and { outside strings, stopping early past `limit`. nlohmann's
// parser is iterative, but a header nested thousands deep is never valid: refuse it cheaply.
int json_depth(std::string_view s, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// One tensor's entry, checked.
struct Entry {
  std::string name;
  const DType* dtype;
  Shape shape;
  uint64_t begin, end;  // byte range within the data section
};

Entry check_entry(const std::string& file, const std::string& name, const json& value,
                  uint64_t data_bytes) {
  const std::string who = "tensor " + in_quotes(name);
  if (!value.is_object()) bad(file, "entry " + in_quotes(name) + " is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key)) bad(file, fmt::format("{} has no \"{}\"", who, key));

  const json& dtype_j = value["dtype"];
  if (!dtype_j.is_string()) bad(file, who + ": \"dtype\" is not a string");
  const std::string dtype_name = dtype_j.get<std::string>();

  const json& shape_j = value["shape"];
  if (!shape_j.is_array()) bad(file, who + ": \"shape\" is not an array");
  Shape shape;
  for (const json& d : shape_j) {
    if (!d.is_number_integer())
      bad(file, fmt::format("{}: shape has a non-integer dimension {}", who,
                            printable(d.dump(), 40)));
    if (d.is_number_unsigned()) {
      if (d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        bad(file, fmt::format("{}: shape dimension {} is too large", who, d.get<uint64_t>()));
    } else if (d.get<int64_t>() < 0) {
      bad(file, fmt::format("{}: shape has a negative dimension {}", who, d.get<int64_t>()));
    }
    shape.push_back(d.get<int64_t>());
  }

  const json& off_j = value["data_offsets"];
  if (!off_j.is_array() || off_j.size() != 2 || !off_j[0].is_number_unsigned() ||
      !off_j[1].is_number_unsigned())
    bad(file, who + ": \"data_offsets\" is not [begin, end] with two non-negative integers");
  const uint64_t begin = off_j[0].get<uint64_t>(), end = off_j[1].get<uint64_t>();

  const DType* dtype = find_dtype(dtype_name);
  if (!dtype)
    bad(file, fmt::format("unsupported dtype {} for {} (kizuki reads F32, I32, I64, U8)",
                          printable(dtype_name, 20), who));
  if (begin > end)
    bad(file, fmt::format("{}: data_offsets [{}, {}] have begin > end", who, begin, end));
  if (end > data_bytes)
    bad(file, fmt::format("{}: data_offsets [{}, {}] lie outside the data section of {} bytes",
                          who, begin, end, data_bytes));

  // numel * size must not overflow even when a zero dimension makes numel 0: the strides
  // of the tensor are products of the other dimensions.
  int64_t bytes_bound = dtype->size;
  bool has_zero = false;
  for (int64_t d : shape) {
    if (d == 0) has_zero = true;
    else if (__builtin_mul_overflow(bytes_bound, d, &bytes_bound))
      bad(file, fmt::format("{}: shape {} has too many elements", who,
                            printable(shape_str(shape), 200)));
  }
  const int64_t numel = has_zero ? 0 : bytes_bound / dtype->size;
  const uint64_t need = static_cast<uint64_t>(numel) * static_cast<uint64_t>(dtype->size);
  if (need != end - begin)
    bad(file, fmt::format("{}: shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}",
                          who, printable(shape_str(shape), 200), dtype->name, need, begin, end,
                          end - begin));
  return {name, dtype, std::move(shape), begin, end};
}

// Copies (converting to float32) one checked entry out of the data section.
Tensor read_entry(const Entry& e, const char* data) {
  Tensor t = Tensor::empty(e.shape);
  const int64_t n = numel_of(e.shape);
  if (n == 0) return t;
  float* out = t.data();
  const char* src = data + e.begin;
  const std::string dtype = e.dtype->name;
  if (dtype == "F32") {
    std::memcpy(out, src, static_cast<size_t>(n) * 4);
  } else if (dtype == "I32") {
    for (int64_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, src + 4 * i, 4);
      out[i] = static_cast<float>(v);
    }
  } else if (dtype == "I64") {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v;
      std::memcpy(&v, src + 8 * i, 8);
      out[i] = static_cast<float>(v);
    }
  } else {  // U8
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(src[i]);
  }
  return t;
}

std::string serialize_for(const std::string& where, const std::map<std::string, Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") bad(where, "a tensor cannot be named \"__metadata__\"");
    if (!t.defined()) bad(where, "tensor " + in_quotes(name) + " is undefined");
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * 4;
    json entry = json::object();
    entry["dtype"] = "F32";
    entry["shape"] = t.shape();
    entry["data_offsets"] = json::array({offset, offset + nbytes});
    header[name] = std::move(entry);
    offset += nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    bad(where, "a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned

  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  out.reserve(8 + text.size() + offset);
  out += text;
  for (const auto& [name, t] : tensors) {
    if (t.numel() == 0) continue;
    const Tensor c = t.contiguous();
    out.append(reinterpret_cast<const char*>(c.data()), static_cast<size_t>(c.numel()) * 4);
  }
  return out;
}

}  // namespace

const Tensor& Safetensors::at(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end())
    fail("safetensors", fmt::format("no tensor named {} (there are {} tensors)", in_quotes(name),
                                    tensors.size()));
  return it->second;
}

Safetensors parse_safetensors(const std::string& bytes, const std::string& file) {
  if (bytes.size() < 8)
    bad(file, fmt::format("file is {} bytes, shorter than the 8-byte header length",
                          bytes.size()));
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const uint64_t after = bytes.size() - 8;
  if (n == 0) bad(file, "header length 0 is out of range");
  if (n > kMaxHeaderBytes)
    bad(file, fmt::format("header length {} is out of range (over the 100 MB limit)", n));
  if (n > after)
    bad(file, fmt::format("header length {} is out of range (only {} bytes follow it)", n,
                          after));
  const std::string_view text(bytes.data() + 8, n);
  const char* data = bytes.data() + 8 + n;
  const uint64_t data_bytes = after - n;

  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    bad(file, fmt::format("invalid JSON header: nested deeper than {} levels", kMaxJsonDepth));
  json header;
  try {
    header = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    bad(file, "invalid JSON header: " + printable(e.what(), 300));
  }
  if (!header.is_object())
    bad(file, fmt::format("header is not a JSON object (it is {})", header.type_name()));

  Safetensors result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad(file, "\"__metadata__\" is not a JSON object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          bad(file, "metadata value for " + in_quotes(mkey) + " is not a string");
        result.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    entries.push_back(check_entry(file, key, value, data_bytes));
  }

  // Sorted by position, a non-empty range must start at or after the furthest end so far.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const Entry* furthest = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (furthest && e.begin < furthest->end)
      bad(file, fmt::format("tensors {} [{}, {}] and {} [{}, {}] overlap", in_quotes(furthest->name),
                            furthest->begin, furthest->end, in_quotes(e.name), e.begin, e.end));
    if (!furthest || e.end > furthest->end) furthest = &e;
  }

  for (const Entry& e : entries) {
    result.tensors.emplace(e.name, read_entry(e, data));
    result.order.push_back(e.name);
  }
  return result;
}

Safetensors load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  return serialize_for("<memory>", tensors, metadata);
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_for(path, tensors, metadata));
}

}  // namespace kz
