//===- Npy.cpp - NumPy .npy reading and writing ---------------------------===//

#include "Npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace moe_run {

size_t dtypeBytes(moe_dtype t) {
  switch (t) {
  case MOE_DTYPE_F32:
  case MOE_DTYPE_I32:
    return 4;
  case MOE_DTYPE_F16:
  case MOE_DTYPE_BF16:
    return 2;
  case MOE_DTYPE_I64:
    return 8;
  case MOE_DTYPE_BOOL:
  case MOE_DTYPE_I8:
    return 1;
  case MOE_DTYPE_I16:
    return 2;
  }
  return 0;
}

const char *dtypeName(moe_dtype t) {
  static const char *names[] = {"f32", "f16", "bf16", "i32",
                                "i64", "bool", "i8",   "i16"};
  return static_cast<unsigned>(t) < 8 ? names[t] : "unknown";
}

namespace {
const char *descrOf(moe_dtype t) {
  switch (t) {
  case MOE_DTYPE_F32:
    return "<f4";
  case MOE_DTYPE_F16:
    return "<f2";
  case MOE_DTYPE_BF16:
    return "<u2";
  case MOE_DTYPE_I32:
    return "<i4";
  case MOE_DTYPE_I64:
    return "<i8";
  case MOE_DTYPE_BOOL:
    return "|b1";
  case MOE_DTYPE_I8:
    return "|i1";
  case MOE_DTYPE_I16:
    return "<i2";
  }
  return "";
}

/// The value after `'key':` in the header dictionary.
std::string field(const std::string &header, const std::string &key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return "";
  at = header.find(':', at);
  if (at == std::string::npos)
    return "";
  size_t start = header.find_first_not_of(' ', at + 1);
  if (start == std::string::npos)
    return "";
  if (header[start] == '(') {
    size_t end = header.find(')', start);
    return end == std::string::npos ? ""
                                    : header.substr(start, end - start + 1);
  }
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}
} // namespace

bool readNpy(const std::string &path, moe_dtype want, NpyTensor &out,
             std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    error = "'" + path + "' is not a .npy file";
    return false;
  }
  uint32_t headerLen = 0;
  unsigned char lenBytes[4] = {0, 0, 0, 0};
  int lenSize = magic[6] == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char *>(lenBytes), lenSize)) {
    error = "'" + path + "': truncated .npy header";
    return false;
  }
  for (int i = lenSize - 1; i >= 0; --i)
    headerLen = headerLen * 256 + lenBytes[i];
  if (headerLen > (1u << 20)) {
    error = "'" + path + "': .npy header too large";
    return false;
  }
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen)) {
    error = "'" + path + "': truncated .npy header";
    return false;
  }
  std::string descr = field(header, "descr");
  if (field(header, "fortran_order") != "False") {
    error = "'" + path + "': Fortran-ordered arrays are not supported";
    return false;
  }
  if (descr == "'<f4'")
    out.dtype = MOE_DTYPE_F32;
  else if (descr == "'<f2'")
    out.dtype = MOE_DTYPE_F16;
  else if (descr == "'<i4'")
    out.dtype = MOE_DTYPE_I32;
  else if (descr == "'<i8'")
    out.dtype = MOE_DTYPE_I64;
  else if (descr == "'|b1'")
    out.dtype = MOE_DTYPE_BOOL;
  else if ((descr == "'<u2'" || descr == "'<i2'") && want == MOE_DTYPE_BF16)
    out.dtype = MOE_DTYPE_BF16;
  else if (descr == "'|i1'")
    out.dtype = MOE_DTYPE_I8;
  else if (descr == "'<i2'")
    out.dtype = MOE_DTYPE_I16;
  else {
    error = "'" + path + "': unsupported element type " + descr +
            " (f4, f2, i1, i2, i4, i8, b1, or u2 holding bfloat16)";
    return false;
  }
  std::string shape = field(header, "shape");
  if (shape.empty()) {
    error = "'" + path + "': no shape in the .npy header";
    return false;
  }
  out.shape.clear();
  std::stringstream dims(shape.substr(1, shape.size() - 2));
  std::string item;
  uint64_t count = 1;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos)
      continue;
    char *end = nullptr;
    long long d = std::strtoll(item.c_str(), &end, 10);
    if (d < 0 || d > (1ll << 40)) {
      error = "'" + path + "': bad dimension '" + item + "'";
      return false;
    }
    out.shape.push_back(d);
    count *= static_cast<uint64_t>(d);
    if (count > (1ull << 40)) {
      error = "'" + path + "': too many elements";
      return false;
    }
  }
  if (out.shape.size() > MOE_MAX_RANK) {
    error = "'" + path + "': rank above " + std::to_string(MOE_MAX_RANK);
    return false;
  }
  size_t bytes = count * dtypeBytes(out.dtype);
  out.data.resize(bytes);
  if (bytes && !in.read(out.data.data(), bytes)) {
    error = "'" + path + "': holds fewer bytes than its shape needs";
    return false;
  }
  return true;
}

bool writeNpy(const std::string &path, const moe_tensor &t,
              std::string &error) {
  std::string header = "{'descr': '" + std::string(descrOf(t.dtype)) +
                       "', 'fortran_order': False, 'shape': (";
  uint64_t count = 1;
  for (int32_t d = 0; d < t.rank; ++d) {
    header += std::to_string(t.shape[d]) + (t.rank == 1 ? "," : "");
    if (d + 1 < t.rank)
      header += ", ";
    count *= static_cast<uint64_t>(t.shape[d]);
  }
  header += "), }";
  // Pad so the data starts at a multiple of 64 bytes, ending in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot write '" + path + "'";
    return false;
  }
  unsigned char prefix[10] = {0x93,
                              'N',
                              'U',
                              'M',
                              'P',
                              'Y',
                              1,
                              0,
                              static_cast<unsigned char>(header.size() & 0xff),
                              static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<char *>(prefix), 10);
  out << header;
  out.write(static_cast<const char *>(t.data), count * dtypeBytes(t.dtype));
  if (!out) {
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

} // namespace moe_run
