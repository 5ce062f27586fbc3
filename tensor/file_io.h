/// \file
/// file_io.h — whole-file reads and atomic writes.
///
/// write_file_atomic writes `path.tmp.<pid>`, fsyncs it, renames it over `path` and fsyncs
/// the directory: a crash or kill -9 at any point leaves either the old file or the new one,
/// never a torn one (and perhaps `path.tmp.<pid>`, which the next write or remove_file of
/// `path` deletes). Errors name the file: "[write] out/results.json: No space left on device".
#pragma once

#include <string>
#include <string_view>

namespace kz {

std::string read_file(const std::string& path);  ///< throws kz::Error naming the file
/// Replaces `path` by `bytes` atomically (see the file's description).
void write_file_atomic(const std::string& path, std::string_view bytes);
/// Removes `path` (if there) and the temporary files a killed write_file_atomic of it left.
void remove_file(const std::string& path);

/// A string taken from a file, made safe for a one-line error message: control bytes
/// escaped as `\xNN`, cut after max_len bytes with "...".
std::string printable(std::string_view s, size_t max_len = 80);

}  // namespace kz
