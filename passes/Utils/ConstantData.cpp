//===- ConstantData.cpp - bytes of constant tensors at compile time -------===//

#include "ConstantData.h"

#include "moe/Dialect/ONNX.h"
#include "moe/Support/ReleasePages.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

using namespace mlir;

namespace {
/// The dense or dense_resource value of the constant `v` (arith or onnx) of
/// a static shape with whole-byte int or float elements, and its size in
/// bytes; a null attribute otherwise.
std::pair<ElementsAttr, size_t> constantAttr(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!type || !type.hasStaticShape() ||
      !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0)
    return {};
  Attribute value;
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    value = cst.getValue();
  else if (auto cst = v.getDefiningOp<onnx::ConstantOp>())
    value = cst.getValue();
  if (!isa_and_present<DenseElementsAttr, DenseResourceElementsAttr>(value))
    return {};
  return {cast<ElementsAttr>(value),
          type.getNumElements() * (type.getElementTypeBitWidth() / 8)};
}
} // namespace

std::optional<ArrayRef<char>> mlir::moe::constantData(Value v) {
  auto [value, size] = constantAttr(v);
  ArrayRef<char> raw;
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(value)) {
    if (dense.isSplat())
      return std::nullopt;
    raw = dense.getRawData();
  } else if (auto res = dyn_cast_or_null<DenseResourceElementsAttr>(value)) {
    if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
      raw = blob->getData();
  }
  if (!value || raw.size() != size)
    return std::nullopt;
  return raw;
}

std::optional<std::vector<char>> mlir::moe::constantBytes(Value v) {
  auto [value, size] = constantAttr(v);
  auto dense = dyn_cast_or_null<DenseElementsAttr>(value);
  if (dense && dense.isSplat()) {
    ArrayRef<char> one = dense.getRawData();
    std::vector<char> out;
    out.reserve(size);
    while (out.size() < size)
      out.insert(out.end(), one.begin(), one.end());
    return out;
  }
  std::optional<ArrayRef<char>> raw = constantData(v);
  if (!raw)
    return std::nullopt;
  return std::vector<char>(raw->begin(), raw->end());
}

namespace {
/// Blobs from this size on (16 MiB; $MOE_FILE_BACKED_BLOB_BYTES sets it,
/// which tests use to take this path with small models) live in an
/// unlinked temporary file mapped shared, not on the heap: their pages are
/// written back and dropped (releasePages) once filled, so relaid-out
/// weights do not hold the compiler's memory (the weights file is written
/// from the mapping).
size_t fileBackedBytes() {
  static const size_t bytes = [] {
    const char *env = std::getenv("MOE_FILE_BACKED_BLOB_BYTES");
    return env ? static_cast<size_t>(std::strtoull(env, nullptr, 10))
               : size_t(16) << 20;
  }();
  return bytes;
}

/// `size` writable bytes in a temporary file's shared mapping; null when
/// none can be made (the caller uses the heap).
char *mapTemporary(size_t size) {
  SmallString<128> path;
  int fd = -1;
  if (llvm::sys::fs::createTemporaryFile("moe-blob", "bin", fd, path))
    return nullptr;
  ::unlink(path.c_str());
  void *data = MAP_FAILED;
  if (::ftruncate(fd, static_cast<off_t>(size)) == 0)
    data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  return data == MAP_FAILED ? nullptr : static_cast<char *>(data);
}
} // namespace

void mlir::moe::releaseConstantPages(Value v) {
  if (std::optional<ArrayRef<char>> data = constantData(v))
    releasePages(data->data(), data->size());
}

Value mlir::moe::createBlobConstant(
    OpBuilder &b, Location loc, RankedTensorType type, size_t size,
    llvm::function_ref<void(MutableArrayRef<char>)> fill, StringRef name,
    bool asONNX) {
  AsmResourceBlob blob;
  char *mapped =
      size && size >= fileBackedBytes() ? mapTemporary(size) : nullptr;
  if (mapped) {
    fill(MutableArrayRef<char>(mapped, size));
    releasePages(mapped, size);
    blob = AsmResourceBlob(
        ArrayRef<char>(mapped, size), alignof(uint64_t),
        [](void *data, size_t size, size_t) { ::munmap(data, size); },
        /*dataIsMutable=*/false);
  } else {
    blob = HeapAsmResourceBlob::allocate(size, alignof(uint64_t));
    fill(blob.getMutableData());
  }
  auto attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
  if (asONNX)
    return onnx::ConstantOp::create(b, loc, type, attr);
  return arith::ConstantOp::create(b, loc, attr);
}

Value mlir::moe::createBlobConstant(OpBuilder &b, Location loc,
                                    RankedTensorType type, ArrayRef<char> bytes,
                                    StringRef name, bool asONNX) {
  return createBlobConstant(
      b, loc, type, bytes.size(),
      [&](MutableArrayRef<char> out) {
        std::memcpy(out.data(), bytes.data(), bytes.size());
      },
      name, asONNX);
}

std::optional<ArrayRef<char>>
mlir::moe::constantDataOrCopy(Value v, std::vector<char> &copy) {
  if (std::optional<ArrayRef<char>> data = constantData(v))
    return data;
  std::optional<std::vector<char>> bytes = constantBytes(v);
  if (!bytes)
    return std::nullopt;
  copy = std::move(*bytes);
  return ArrayRef<char>(copy);
}

namespace {
/// Writes the bytes of 2-D constants `parts` one after the other into
/// `out` as `[R, C]`, each stored `[R, C]` or, with `transpose`, `[C, R]`.
void stackInto(MutableArrayRef<char> out, ArrayRef<ArrayRef<char>> parts,
               bool transpose, int64_t rows, int64_t cols) {
  char *at = out.data();
  for (ArrayRef<char> bytes : parts) {
    if (!transpose) {
      std::memcpy(at, bytes.data(), bytes.size());
      at += bytes.size();
      continue;
    }
    // Stored [cols, rows]: element (r, c) is at c * rows + r.
    size_t eltBytes = bytes.size() / (rows * cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c, at += eltBytes)
        std::memcpy(at, bytes.data() + (c * rows + r) * eltBytes, eltBytes);
  }
}

/// `[R, C]` of a 2-D tensor type read as `[C, R]` when `transpose`.
std::optional<std::pair<int64_t, int64_t>> rowsCols(Value v, bool transpose) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr;
  if (!type || type.getRank() != 2)
    return std::nullopt;
  return std::pair{type.getDimSize(transpose ? 1 : 0),
                   type.getDimSize(transpose ? 0 : 1)};
}
} // namespace

Value mlir::moe::stackConstants(OpBuilder &b, Location loc,
                                ArrayRef<Value> parts, bool transpose,
                                StringRef name) {
  auto shape =
      parts.empty() ? std::nullopt : rowsCols(parts.front(), transpose);
  if (!shape)
    return nullptr;
  // Each part, of the first one's type, viewed in place (a splat expanded
  // into its entry of `copies`).
  SmallVector<std::vector<char>> copies(parts.size());
  SmallVector<ArrayRef<char>> views;
  for (auto [part, copy] : llvm::zip_equal(parts, copies)) {
    std::optional<ArrayRef<char>> view =
        part.getType() == parts.front().getType()
            ? constantDataOrCopy(part, copy)
            : std::nullopt;
    if (!view)
      return nullptr;
    views.push_back(*view);
  }
  auto outType = RankedTensorType::get(
      {static_cast<int64_t>(parts.size()), shape->first, shape->second},
      cast<ShapedType>(parts.front().getType()).getElementType());
  size_t size = 0;
  for (ArrayRef<char> v : views)
    size += v.size();
  Value out = createBlobConstant(
      b, loc, outType, size,
      [&](MutableArrayRef<char> dst) {
        stackInto(dst, views, transpose, shape->first, shape->second);
      },
      name, /*asONNX=*/true);
  for (Value part : parts)
    releaseConstantPages(part);
  return out;
}

Value mlir::moe::transposeConstant(OpBuilder &b, Location loc, Value v,
                                   StringRef name, bool asONNX) {
  auto shape = rowsCols(v, /*transpose=*/true);
  if (!shape)
    return nullptr;
  std::vector<char> copy;
  std::optional<ArrayRef<char>> bytes = constantDataOrCopy(v, copy);
  if (!bytes)
    return nullptr;
  auto outType =
      RankedTensorType::get({shape->first, shape->second},
                            cast<ShapedType>(v.getType()).getElementType());
  Value out = createBlobConstant(
      b, loc, outType, bytes->size(),
      [&](MutableArrayRef<char> dst) {
        stackInto(dst, *bytes, /*transpose=*/true, shape->first,
                  shape->second);
      },
      name, asONNX);
  releaseConstantPages(v);
  return out;
}

Value mlir::moe::transposeStacked(OpBuilder &b, Location loc, Value v,
                                  StringRef name) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != 3 || !type.hasStaticShape() ||
      type.getElementType().getIntOrFloatBitWidth() % 8)
    return nullptr;
  std::vector<char> copy;
  std::optional<ArrayRef<char>> data = constantDataOrCopy(v, copy);
  if (!data)
    return nullptr;
  ArrayRef<char> bytes = *data;
  int64_t e = type.getDimSize(0), r = type.getDimSize(1),
          c = type.getDimSize(2);
  size_t w = type.getElementType().getIntOrFloatBitWidth() / 8;
  auto outType = RankedTensorType::get({e, c, r}, type.getElementType());
  Value out = createBlobConstant(
      b, loc, outType, bytes.size(),
      [&](MutableArrayRef<char> dst) {
        for (int64_t x = 0; x < e; ++x)
          for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < c; ++j)
              std::memcpy(dst.data() + ((x * c + j) * r + i) * w,
                          bytes.data() + ((x * r + i) * c + j) * w, w);
      },
      name, /*asONNX=*/true);
  releaseConstantPages(v);
  return out;
}

std::optional<std::vector<double>> mlir::moe::constantValues(Value v) {
  std::optional<std::vector<char>> bytes = constantBytes(v);
  if (!bytes)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  Type elt = type.getElementType();
  unsigned width = elt.getIntOrFloatBitWidth();
  std::vector<double> out(type.getNumElements());
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, bytes->data() + i * (width / 8), width / 8);
    if (auto ft = dyn_cast<FloatType>(elt)) {
      APFloat f(ft.getFloatSemantics(), APInt(width, raw));
      bool lost;
      f.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      out[i] = f.convertToDouble();
    } else if (elt.isUnsignedInteger()) {
      out[i] = static_cast<double>(raw);
    } else {
      out[i] = static_cast<double>(APInt(width, raw).getSExtValue());
    }
  }
  return out;
}

std::optional<std::vector<char>>
mlir::moe::floatBytes(ArrayRef<double> values, FloatType elt, bool exact) {
  unsigned bytes = elt.getWidth() / 8;
  std::vector<char> out(values.size() * bytes);
  for (auto [i, x] : llvm::enumerate(values)) {
    APFloat value(x);
    bool losesInfo = false;
    value.convert(elt.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    if (exact && losesInfo)
      return std::nullopt;
    uint64_t bits = value.bitcastToAPInt().getZExtValue();
    std::memcpy(out.data() + i * bytes, &bits, bytes);
  }
  return out;
}

/// The float constant `v`'s elements converted to `elt`, row-major bytes;
/// nothing when `v` is not a readable float constant or a value does not
/// convert exactly.
static std::optional<std::vector<char>> exactBytes(Value v, FloatType elt) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  auto from = type ? dyn_cast<FloatType>(type.getElementType()) : nullptr;
  if (!from || !type.hasStaticShape())
    return std::nullopt;
  if (from == elt)
    return moe::constantBytes(v);
  std::optional<std::vector<double>> values = moe::constantValues(v);
  if (!values)
    return std::nullopt;
  return moe::floatBytes(*values, elt, /*exact=*/true);
}

Value mlir::moe::convertConstantExactly(
    OpBuilder &b, Location loc, Value v, FloatType elt, StringRef name,
    std::optional<ArrayRef<int64_t>> shape) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return nullptr;
  SmallVector<int64_t> outShape(shape ? *shape : type.getShape());
  if (ShapedType::getNumElements(outShape) != type.getNumElements())
    return nullptr;
  if (type.getElementType() == elt &&
      ArrayRef<int64_t>(outShape) == type.getShape())
    return v;
  auto outType = RankedTensorType::get(outShape, elt);
  // A reshape of the same elements shares the data (resources) or copies
  // it from where it is.
  if (type.getElementType() == elt) {
    if (auto res = dyn_cast_or_null<DenseResourceElementsAttr>(
            constantAttr(v).first))
      return onnx::ConstantOp::create(
          b, loc, outType,
          DenseResourceElementsAttr::get(outType, res.getRawHandle()));
    if (std::optional<ArrayRef<char>> data = constantData(v))
      return createBlobConstant(b, loc, outType, *data, name, /*asONNX=*/true);
  }
  std::optional<std::vector<char>> bytes = exactBytes(v, elt);
  if (!bytes)
    return nullptr;
  return createBlobConstant(b, loc, outType, *bytes, name, /*asONNX=*/true);
}

Value mlir::moe::stackVectors(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                              FloatType elt, StringRef name) {
  if (parts.empty())
    return nullptr;
  std::vector<char> all;
  int64_t n = -1;
  for (Value part : parts) {
    auto type = dyn_cast<RankedTensorType>(part.getType());
    if (!type || !type.hasStaticShape() ||
        (n >= 0 && type.getNumElements() != n))
      return nullptr;
    n = type.getNumElements();
    std::optional<std::vector<char>> bytes = exactBytes(part, elt);
    if (!bytes)
      return nullptr;
    all.insert(all.end(), bytes->begin(), bytes->end());
  }
  return createBlobConstant(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(parts.size()), n}, elt), all,
      name, /*asONNX=*/true);
}
