// npy.cpp — read and write NumPy .npy arrays (format described in npy.h).
//
// A file is: the magic "\x93NUMPY", a major and a minor version byte, the header length
// (u16 little-endian for version 1, u32 for versions 2 and 3), the header — a Python dict
// literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and ended by '\n' — and then the raw C-order data. The dict is parsed by a small
// hand-written scanner that accepts exactly the literals numpy writes (strings, True/False,
// tuples of integers) and rejects anything else with the byte offset at fault.
// Errors are one line: "[npy] <file>: <what is wrong>".
#include "tensor/npy.h"

#include <bit>
#include <cstring>
#include <limits>
#include <string_view>

#include "tensor/file_io.h"

namespace kz {
namespace {

static_assert(std::endian::native == std::endian::little,
              ".npy data is read as little-endian in place");

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  fail("npy", printable(file, 1024) + ": " + what);
}

struct NpyDType {
  const char* descr;
  int64_t size;
  bool is_float;
};
constexpr NpyDType kDTypes[] = {
    {"<f4", 4, true}, {"<i4", 4, false}, {"<i8", 8, false}, {"|u1", 1, false}, {"<u1", 1, false}};

struct NpyHeader {
  const NpyDType* dtype = nullptr;
  Shape shape;
  size_t data_offset = 0;  // bytes from the start of the file
};

// Scans the header dict. Every method either consumes what it promises or fails.
class DictScanner {
 public:
  DictScanner(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  // Fills descr, fortran_order and shape; checks that each appears.
  void scan(std::string& descr, bool& fortran_order, Shape& shape) {
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (eat('}')) break;
      const std::string key = string_literal();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          bad(file_, "unsupported dtype: 'descr' is not a simple type string "
                     "(kizuki reads <f4, <i4, <i8, |u1)");
        descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = boolean();
        seen_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        seen_shape = true;
      } else {
        bad(file_, "unexpected key '" + printable(key) +
                       "' in the header (expected descr, fortran_order, shape)");
      }
      skip_space();
      if (eat(',')) continue;
      expect('}');
      break;
    }
    skip_space();
    if (i_ != s_.size()) malformed("text after the closing '}'");
    if (!seen_descr) bad(file_, "the header has no 'descr'");
    if (!seen_fortran) bad(file_, "the header has no 'fortran_order'");
    if (!seen_shape) bad(file_, "the header has no 'shape'");
  }

 private:
  [[noreturn]] void malformed(const std::string& what) {
    bad(file_, fmt::format("malformed header dict at byte {}: {} (header: {})", i_, what,
                           printable(s_, 120)));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    if (!eat(c)) malformed(fmt::format("expected '{}'", c));
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' ||
                              s_[i_] == '\r'))
      ++i_;
  }
  // 'text' or "text"; a backslash takes the next character literally.
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') malformed("expected a quoted string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != quote) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out += s_[i_++];
    }
    if (i_ >= s_.size()) malformed("unterminated string");
    ++i_;
    return out;
  }
  bool boolean() {
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return value;
      }
    }
    malformed("expected True or False");
  }
  // A Python int literal (optionally with Python 2's 'L'); dimensions must be >= 0.
  int64_t dimension() {
    if (peek() == '-') {
      const size_t start = i_++;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      bad(file_, "shape has a negative dimension " +
                     printable(s_.substr(start, i_ - start), 30));
    }
    if (peek() < '0' || peek() > '9') malformed("expected an integer dimension");
    int64_t v = 0;
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[i_] - '0', &v)) {
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        bad(file_, "shape dimension " + printable(s_.substr(start, i_ - start), 30) +
                       " is too large");
      }
      ++i_;
    }
    eat('L');
    return v;
  }
  // (a, b, ...) with an optional trailing comma; () is a scalar. [a, b] is taken too.
  Shape tuple() {
    const char close = peek() == '(' ? ')' : peek() == '[' ? ']' : '\0';
    if (!close) malformed("expected a shape tuple");
    ++i_;
    Shape shape;
    for (;;) {
      skip_space();
      if (eat(close)) break;
      shape.push_back(dimension());
      skip_space();
      if (eat(',')) continue;
      expect(close);
      break;
    }
    return shape;
  }

  std::string_view s_;
  const std::string& file_;
  size_t i_ = 0;
};

NpyHeader parse_header(const std::string& bytes, const std::string& file) {
  if (bytes.size() < 10 || bytes.compare(0, kMagic.size(), kMagic) != 0) {
    if (bytes.size() >= kMagic.size() && bytes.compare(0, kMagic.size(), kMagic) != 0)
      bad(file, "not an .npy file (bad magic bytes)");
    bad(file, fmt::format("file is {} bytes, too short for an .npy preamble", bytes.size()));
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    bad(file, fmt::format("unsupported .npy format version {}.{}", major, minor));
  const size_t preamble = major == 1 ? 10 : 12;
  if (bytes.size() < preamble)
    bad(file, fmt::format("file is {} bytes, too short for an .npy preamble", bytes.size()));
  uint32_t header_len = 0;
  if (major == 1) {
    uint16_t n;
    std::memcpy(&n, bytes.data() + 8, 2);
    header_len = n;
  } else {
    std::memcpy(&header_len, bytes.data() + 8, 4);
  }
  if (header_len > bytes.size() - preamble)
    bad(file, fmt::format("header length {} runs past the end of the file ({} bytes)",
                          header_len, bytes.size()));

  std::string descr;
  bool fortran_order = false;
  NpyHeader h;
  DictScanner(std::string_view(bytes).substr(preamble, header_len), file)
      .scan(descr, fortran_order, h.shape);
  h.data_offset = preamble + header_len;

  for (const NpyDType& d : kDTypes)
    if (descr == d.descr) h.dtype = &d;
  if (!h.dtype) {
    if (!descr.empty() && descr[0] == '>')
      bad(file, "big-endian dtype '" + printable(descr, 20) + "' is not supported");
    bad(file, "unsupported dtype '" + printable(descr, 20) +
                  "' (kizuki reads <f4, <i4, <i8, |u1)");
  }
  if (fortran_order) bad(file, "Fortran-order (column-major) arrays are not supported");

  // The byte count is checked with overflow-safe products, as in safetensors.cpp.
  int64_t bytes_bound = h.dtype->size;
  bool has_zero = false;
  for (int64_t d : h.shape) {
    if (d == 0) has_zero = true;
    else if (__builtin_mul_overflow(bytes_bound, d, &bytes_bound))
      bad(file, fmt::format("shape {} has too many elements", printable(shape_str(h.shape), 200)));
  }
  const uint64_t need = has_zero ? 0 : static_cast<uint64_t>(bytes_bound);
  const uint64_t have = bytes.size() - h.data_offset;
  if (need != have)
    bad(file, fmt::format("shape {} of {} needs {} bytes of data but {} follow the header",
                          printable(shape_str(h.shape), 200), h.dtype->descr, need, have));
  return h;
}

// Element i of the data as int64 (for integer dtypes).
int64_t int_at(const NpyHeader& h, const char* data, int64_t i) {
  switch (h.dtype->size) {
    case 1: return static_cast<unsigned char>(data[i]);
    case 4: {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, data + 8 * i, 8);
      return v;
    }
  }
}

// magic, version, header length, the dict padded so the data starts 64-byte aligned.
std::string npy_preamble(const std::string& descr, const Shape& shape) {
  const std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                  shape_str(shape));
  const bool v1 = dict.size() + 1 + 10 + 63 <= 65535;
  const size_t preamble = v1 ? 10 : 12;
  const size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  const size_t header_len = total - preamble;
  std::string out(kMagic);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  const uint32_t n32 = static_cast<uint32_t>(header_len);
  const uint16_t n16 = static_cast<uint16_t>(header_len);
  out.append(v1 ? reinterpret_cast<const char*>(&n16) : reinterpret_cast<const char*>(&n32),
             v1 ? 2 : 4);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

void check_shape(const std::string& file, const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) bad(file, "cannot write shape " + shape_str(shape) + " with a negative dimension");
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& file) {
  const NpyHeader h = parse_header(bytes, file);
  Tensor t = Tensor::empty(h.shape);
  const int64_t n = numel_of(h.shape);
  if (n == 0) return t;
  const char* data = bytes.data() + h.data_offset;
  float* out = t.data();
  if (h.dtype->is_float)
    std::memcpy(out, data, static_cast<size_t>(n) * 4);
  else
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(int_at(h, data, i));
  return t;
}

std::vector<int64_t> parse_npy_int(const std::string& bytes, const std::string& file,
                                   Shape* shape) {
  const NpyHeader h = parse_header(bytes, file);
  if (h.dtype->is_float)
    bad(file, fmt::format("dtype {} is not an integer type (load_npy_int reads <i4, <i8, |u1)",
                          h.dtype->descr));
  const int64_t n = numel_of(h.shape);
  std::vector<int64_t> values(static_cast<size_t>(n));
  const char* data = bytes.data() + h.data_offset;
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = int_at(h, data, i);
  if (shape) *shape = h.shape;
  return values;
}

Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

std::vector<int64_t> load_npy_int(const std::string& path, Shape* shape) {
  return parse_npy_int(read_file(path), path, shape);
}

void save_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) bad(path, "cannot write an undefined tensor");
  const Tensor c = t.contiguous();
  std::string out = npy_preamble("<f4", c.shape());
  if (c.numel() > 0)
    out.append(reinterpret_cast<const char*>(c.data()), static_cast<size_t>(c.numel()) * 4);
  write_file_atomic(path, out);
}

void save_npy_int(const std::string& path, const std::vector<int64_t>& values,
                  const Shape& shape) {
  check_shape(path, shape);
  if (static_cast<int64_t>(values.size()) != numel_of(shape))
    bad(path, fmt::format("{} values do not fill shape {}", values.size(), shape_str(shape)));
  std::string out = npy_preamble("<i8", shape);
  if (!values.empty())
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * 8);
  write_file_atomic(path, out);
}

}  // namespace kz
