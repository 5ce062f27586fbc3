/// \file
/// safetensors.h — read and write the safetensors format (Hugging Face).
///
/// Layout: u64 little-endian N, then N bytes of JSON mapping each tensor name to
/// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section),
/// plus an optional "__metadata__" object of strings; then the data section.
/// Reading validates everything before trusting it and fails with one line naming the file
/// and the fault (truncated, header length out of range, invalid JSON, offsets outside the
/// data or overlapping, shape not matching the byte count, unsupported dtype).
/// F32 is read as is; I32, I64 and U8 are read and converted to float32 (labels, indices).
/// Writing is F32 only, atomic (tensor/file_io.h), in the given order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kz {

/// A safetensors file's contents.
struct Safetensors {
  std::map<std::string, Tensor> tensors;          ///< by name
  std::vector<std::string> order;                 ///< names in file (data offset) order
  std::map<std::string, std::string> metadata;    ///< "__metadata__"
  const Tensor& at(const std::string& name) const;  ///< throws naming the missing key
};

/// Reads and validates a file (see the file's description for what fails).
Safetensors load_safetensors(const std::string& path);
/// Writes `tensors` (F32) and `metadata` atomically.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
/// The same format to and from memory (model files embed it; fuzzing uses it).
///@{
Safetensors parse_safetensors(const std::string& bytes, const std::string& name_for_errors);
std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});
///@}

}  // namespace kz
