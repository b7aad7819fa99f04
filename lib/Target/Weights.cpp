//===- Weights.cpp - the weights file of a module -------------------------===//

#include "Weights.h"

#include "moe/Passes/Runtime.h"
#include "moe/Runtime/Weights.h"
#include "moe/Support/ReleasePages.h"
#include "moe/Target/SafeOutput.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"


#include <cstring>

using namespace mlir;

namespace {
struct Moved {
  LLVM::GlobalOp global;
  uint64_t offset;
  ArrayRef<char> raw; // one element when `splat`
  uint64_t bytes;
  bool splat;
};

constexpr uint64_t kPiece = 64 << 20;

/// FNV-1a over little-endian 64-bit words (Weights.h).
struct WordHash {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const char *p, size_t n) { // n is a multiple of 8
    for (size_t i = 0; i < n; i += 8)
      h = (h ^ llvm::support::endian::read64le(p + i)) * 0x100000001b3ull;
  }
};

/// Feeds the file's data section in order (padding as zeros) to `sink`,
/// in pieces of at most kPiece bytes, multiples of 8.
template <typename Sink>
void forEachPiece(ArrayRef<Moved> moved, uint64_t size, Sink sink) {
  static const char zeros[4096] = {};
  std::vector<char> staging;
  uint64_t at = 0;
  auto pad = [&](uint64_t to) {
    while (at < to) {
      uint64_t n = std::min<uint64_t>(to - at, sizeof(zeros));
      sink(zeros, n);
      at += n;
    }
  };
  for (const Moved &m : moved) {
    pad(m.offset);
    // Whole words go straight from the attribute; a tail of fewer than 8
    // bytes is padded with zeros (the next offset is 64-aligned).
    uint64_t whole = m.bytes & ~uint64_t(7);
    if (!m.splat) {
      for (uint64_t done = 0; done < whole;) {
        uint64_t n = std::min<uint64_t>(whole - done, kPiece);
        sink(m.raw.data() + done, n);
        done += n;
      }
    } else {
      // A whole number of elements and of words per piece.
      staging.clear();
      size_t copies = llvm::alignTo((1 << 16) / m.raw.size() + 1, 8);
      for (size_t i = 0; i < copies; ++i)
        staging.insert(staging.end(), m.raw.begin(), m.raw.end());
      for (uint64_t done = 0; done < whole;) {
        uint64_t n = std::min<uint64_t>(whole - done, staging.size());
        sink(staging.data(), n);
        done += n;
      }
    }
    if (uint64_t tail = m.bytes - whole) {
      char word[8] = {};
      for (uint64_t i = 0; i < tail; ++i)
        word[i] = m.splat ? m.raw[(whole + i) % m.raw.size()]
                          : m.raw[whole + i];
      sink(word, 8);
    }
    at = m.offset + llvm::alignTo(m.bytes, 8);
  }
  pad(size);
}
} // namespace

std::string moe::detail::defaultWeightsPath(StringRef output) {
  SmallString<256> path(output);
  llvm::sys::path::replace_extension(path, "weights");
  return std::string(path);
}

FailureOr<std::unique_ptr<moe::SafeOutput>>
moe::detail::writeWeightsFile(ModuleOp module, StringRef path) {
  auto info = module->getAttrOfType<DictionaryAttr>(kWeightsAttr);
  if (!info)
    return std::unique_ptr<SafeOutput>();
  auto sizeAttr = info.getAs<IntegerAttr>("size");
  if (!sizeAttr)
    return module.emitError() << "malformed '" << kWeightsAttr << "' attribute";
  uint64_t size = sizeAttr.getInt();

  SmallVector<Moved> moved;
  for (auto global : module.getOps<LLVM::GlobalOp>()) {
    auto offset = global->getAttrOfType<IntegerAttr>(kWeightsOffsetAttr);
    if (!offset)
      continue;
    auto value = dyn_cast_or_null<ElementsAttr>(global.getValueOrNull());
    Moved m{global, static_cast<uint64_t>(offset.getInt()), {}, 0, false};
    if (value) {
      Type element = value.getElementType();
      m.bytes = value.getNumElements() * (element.getIntOrFloatBitWidth() / 8);
      if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
        m.raw = dense.getRawData();
        m.splat = dense.isSplat();
      } else if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
        if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
          m.raw = blob->getData();
      }
    }
    if (!value || m.raw.empty() || (!m.splat && m.raw.size() != m.bytes) ||
        m.offset + m.bytes > size)
      return global.emitError()
             << "cannot write this global to the weights file (its data is "
                "missing or does not match its type)";
    moved.push_back(m);
  }
  llvm::sort(moved, [](const Moved &a, const Moved &b) {
    return a.offset < b.offset;
  });

  // One pass over the weights: the data, hashed as it goes, then the
  // header in front of it.
  std::string error;
  auto out = SafeOutput::open(path, error);
  if (!out)
    return module.emitError() << error;
  char header[MOE_WEIGHTS_HEADER_BYTES] = {};
  out->os().write(header, sizeof(header));
  WordHash hash;
  forEachPiece(moved, size, [&](const char *p, uint64_t n) {
    hash.add(p, n);
    out->os().write(p, n);
    // Weights the importer mapped from ONNX external data stop counting
    // against the compiler's memory once written.
    releasePages(p, n);
  });
  std::memcpy(header, MOE_WEIGHTS_MAGIC, 8);
  llvm::support::endian::write64le(header + 8, size);
  llvm::support::endian::write64le(header + 16, hash.h);
  llvm::support::endian::write64le(header + 24, MOE_WEIGHTS_HEADER_BYTES);
  out->os().seek(0);
  out->os().write(header, sizeof(header));

  Builder b(module.getContext());
  module->setAttr(
      kWeightsAttr,
      b.getDictionaryAttr(
          {b.getNamedAttr("file", b.getStringAttr(
                                      llvm::sys::path::filename(path))),
           b.getNamedAttr("size", b.getI64IntegerAttr(size)),
           b.getNamedAttr("hash", b.getI64IntegerAttr(
                                      static_cast<int64_t>(hash.h)))}));
  for (Moved &m : moved)
    m.global.erase();
  return out;
}
