//===- ONNXImporter.cpp - ONNX protobuf -> onnx dialect -------------------===//
//
// A translation only: every node becomes the `onnx` op of its name, every
// initializer an `onnx.Constant`; graph inputs and outputs become the
// signature of one func.func. Lowering happens in passes.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/ONNXImport.h"

#include "ModelLoader.h"
#include "OpsetNormalization.h"
#include "moe/Dialect/ONNX.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <memory>
#include <set>

using namespace mlir;
namespace pb = ::onnx;

namespace {
/// Older forms of the ops are rewritten on import (OpsetNormalization);
/// opset 28 (onnx 1.23) changed none of the supported ops' semantics since
/// 21, only their type lists.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 28;
/// Initializers with at most this many elements stay inline dense attributes
/// (readable, and foldable by shape inference); larger ones are blobs.
constexpr int64_t kInlineElements = 16;
/// TensorProto element codes newer than the protobuf headers in use.
constexpr int32_t kUInt4Code = 21;
constexpr int32_t kInt4Code = 22;

bool isDefaultDomain(StringRef domain) {
  return domain.empty() || domain == "ai.onnx";
}

/// ONNX operators of the `com.microsoft` domain that the dialect models.
bool isSupportedContribOp(StringRef opType) {
  return llvm::is_contained({"MoE", "QMoE", "SimplifiedLayerNormalization",
                             "SkipSimplifiedLayerNormalization",
                             "RotaryEmbedding", "MultiHeadAttention",
                             "FusedMatMul", "MatMulNBits"},
                            opType);
}

/// Contrib ops that onnxruntime does not register in the default domain
/// (the default domain's RotaryEmbedding, from opset 23, differs).
bool isContribOnly(StringRef opType) {
  return llvm::is_contained({"MoE", "QMoE", "SkipSimplifiedLayerNormalization",
                             "RotaryEmbedding", "MultiHeadAttention",
                             "FusedMatMul", "MatMulNBits"},
                            opType);
}

struct ElementInfo {
  Type type;
  unsigned bytes;
};

class Importer {
public:
  Importer(MLIRContext *ctx, StringRef path)
      : ctx(ctx), builder(ctx), path(path.str()) {
    SmallString<256> dir(path);
    llvm::sys::path::remove_filename(dir);
    modelDir = dir.empty() ? "." : std::string(dir);
  }

  OwningOpRef<ModuleOp> run(pb::ModelProto &model);

private:
  InFlightDiagnostic fileError() {
    return mlir::emitError(FileLineColLoc::get(ctx, path, 0, 0));
  }
  Location nodeLoc(const pb::NodeProto &node, int index);
  FailureOr<ElementInfo> elementInfo(int32_t code, Location loc,
                                     StringRef what);
  FailureOr<Type> valueType(const pb::ValueInfoProto &info, Location loc);
  /// With `ownedRaw` (the tensor's raw_data, which the importer may take),
  /// large raw data moves into the attribute instead of being copied.
  FailureOr<ElementsAttr> tensorAttr(const pb::TensorProto &tensor,
                                     Location loc, StringRef what,
                                     std::string *ownedRaw = nullptr);
  FailureOr<std::unique_ptr<llvm::MemoryBuffer>>
  readExternalData(const pb::TensorProto &tensor, uint64_t expectedBytes,
                   Location loc, StringRef what);
  LogicalResult checkOpsets(const pb::ModelProto &model);
  LogicalResult sortNodes(const pb::GraphProto &graph,
                          SmallVectorImpl<int> &order);
  FailureOr<Attribute> convertAttribute(const pb::AttributeProto &attr,
                                        Location loc);
  LogicalResult importNode(const pb::NodeProto &node, int index);
  Value noneValue(Location loc);
  /// The dim_param names of a graph input/output ("" for other dims), or
  /// null when it has none: equal names must have equal sizes at run time.
  ArrayAttr dimParams(const pb::ValueInfoProto &info);

  MLIRContext *ctx;
  OpBuilder builder;
  std::string path;
  std::string modelDir;
  int64_t defaultOpset = 0;
  /// Versions of the other domains the model imports.
  llvm::StringMap<int64_t> domainOpsets;
  llvm::StringMap<Value> values;
  llvm::StringMap<const pb::ValueInfoProto *> valueInfos;
  Value none;
};
} // namespace

Location Importer::nodeLoc(const pb::NodeProto &node, int index) {
  // loc("<node name>"("<op type>")): the node name (or, for unnamed nodes,
  // its first output) identifies the node in every later diagnostic. No
  // file position: ONNX has no lines, and the function carries the file.
  std::string name = node.name();
  if (name.empty())
    name = node.output_size() ? node.output(0) : "#" + std::to_string(index);
  return NameLoc::get(StringAttr::get(ctx, name),
                      NameLoc::get(StringAttr::get(ctx, node.op_type())));
}

FailureOr<ElementInfo> Importer::elementInfo(int32_t code, Location loc,
                                             StringRef what) {
  Type type = mlir::onnx::typeFromONNXCode(ctx, code);
  if (!type)
    return mlir::emitError(loc) << what << " has unsupported ONNX element type "
                                << mlir::onnx::onnxElementTypeName(code);
  // Booleans are stored one per byte.
  unsigned bytes = std::max(1u, type.getIntOrFloatBitWidth() / 8);
  return ElementInfo{type, bytes};
}

FailureOr<Type> Importer::valueType(const pb::ValueInfoProto &info,
                                    Location loc) {
  std::string what = "value '" + info.name() + "'";
  if (!info.has_type() || !info.type().has_tensor_type())
    return mlir::emitError(loc) << what << " is not a tensor";
  const auto &tensor = info.type().tensor_type();
  auto elt = elementInfo(tensor.elem_type(), loc, what);
  if (failed(elt))
    return failure();
  if (!tensor.has_shape())
    return Type(UnrankedTensorType::get(elt->type));
  SmallVector<int64_t> dims;
  for (const auto &dim : tensor.shape().dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0)
        return mlir::emitError(loc)
               << what << " has negative dimension " << dim.dim_value();
      dims.push_back(dim.dim_value());
    } else {
      dims.push_back(ShapedType::kDynamic); // dim_param or unknown
    }
  }
  return Type(RankedTensorType::get(dims, elt->type));
}

/// The external data of `tensor`, mapped (MemoryBuffer maps large slices
/// rather than reading them).
FailureOr<std::unique_ptr<llvm::MemoryBuffer>>
Importer::readExternalData(const pb::TensorProto &tensor,
                           uint64_t expectedBytes, Location loc,
                           StringRef what) {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  for (const auto &entry : tensor.external_data()) {
    auto parseNumber = [&](uint64_t &out) {
      return !StringRef(entry.value()).getAsInteger(10, out);
    };
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset") {
      if (!parseNumber(offset))
        return mlir::emitError(loc) << what << ": bad external data offset '"
                                    << entry.value() << "'";
    } else if (entry.key() == "length") {
      uint64_t n;
      if (!parseNumber(n))
        return mlir::emitError(loc) << what << ": bad external data length '"
                                    << entry.value() << "'";
      length = n;
    }
  }
  if (location.empty())
    return mlir::emitError(loc) << what << ": external data has no location";
  // Only files inside the model's directory may be read.
  if (llvm::sys::path::is_absolute(location))
    return mlir::emitError(loc)
           << what << ": external data location '" << location
           << "' is absolute; it must be relative to "
              "the model's directory";
  for (StringRef part : llvm::make_range(llvm::sys::path::begin(location),
                                         llvm::sys::path::end(location)))
    if (part == "..")
      return mlir::emitError(loc)
             << what << ": external data location '" << location
             << "' leaves the model's directory";
  SmallString<256> file(modelDir);
  llvm::sys::path::append(file, location);
  SmallString<256> realDir, realFile;
  if (llvm::sys::fs::real_path(modelDir, realDir) ||
      llvm::sys::fs::real_path(file, realFile))
    return mlir::emitError(loc)
           << what << ": cannot open external data file '" << file << "'";
  if (!StringRef(realFile).starts_with(StringRef(realDir.str().str() + "/")))
    return mlir::emitError(loc) << what << ": external data file '" << file
                                << "' resolves outside the model's directory";
  uint64_t fileSize;
  if (llvm::sys::fs::file_size(realFile, fileSize))
    return mlir::emitError(loc)
           << what << ": cannot read external data file '" << file << "'";
  if (offset > fileSize)
    return mlir::emitError(loc)
           << what << ": external data offset " << offset
           << " is past the end of '" << file << "' (" << fileSize << " bytes)";
  uint64_t available = fileSize - offset;
  uint64_t size = length.value_or(expectedBytes);
  if (length && *length != expectedBytes)
    return mlir::emitError(loc) << what << ": external data length " << *length
                                << " does not match the " << expectedBytes
                                << " bytes its shape needs";
  if (size > available)
    return mlir::emitError(loc)
           << what << ": external data file '" << file << "' holds "
           << available << " bytes after offset " << offset
           << ", shorter than the " << size << " bytes declared";
  auto buffer = llvm::MemoryBuffer::getFileSlice(realFile, size, offset,
                                                 /*IsVolatile=*/false);
  if (!buffer)
    return mlir::emitError(loc)
           << what << ": cannot read external data file '" << file << "'";
  return std::move(*buffer);
}

/// A dense_resource of `type` over `data`, which `owner` (the mapped file
/// or the parsed string) keeps alive: no copy. Null when `data` is not
/// aligned for the element reads.
static ElementsAttr sharedResource(RankedTensorType type, StringRef name,
                                   ArrayRef<char> data,
                                   std::shared_ptr<const void> owner) {
  if (reinterpret_cast<uintptr_t>(data.data()) % alignof(uint64_t))
    return nullptr;
  AsmResourceBlob blob(
      data, alignof(uint64_t),
      [owner](void *, size_t, size_t) mutable { owner.reset(); },
      /*dataIsMutable=*/false);
  return DenseResourceElementsAttr::get(type, name, std::move(blob));
}

FailureOr<ElementsAttr> Importer::tensorAttr(const pb::TensorProto &tensor,
                                             Location loc, StringRef what,
                                             std::string *ownedRaw) {
  // 4-bit codes (QDQ weights), packed two per byte low nibble first, are
  // read as one 8-bit integer each: DequantizeLinear gives the same values.
  bool nibbles =
      tensor.data_type() == kInt4Code || tensor.data_type() == kUInt4Code;
  bool signedNibbles = tensor.data_type() == kInt4Code;
  auto elt = elementInfo(nibbles ? (signedNibbles ? pb::TensorProto::INT8
                                                  : pb::TensorProto::UINT8)
                                 : tensor.data_type(),
                         loc, what);
  if (failed(elt))
    return failure();
  SmallVector<int64_t> dims;
  int64_t count = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0)
      return mlir::emitError(loc) << what << " has negative dimension " << d;
    if (llvm::MulOverflow(count, d, count))
      return mlir::emitError(loc)
             << what << " has more elements than can be addressed";
    dims.push_back(d);
  }
  int64_t totalBytes;
  if (llvm::MulOverflow(count, static_cast<int64_t>(elt->bytes), totalBytes))
    return mlir::emitError(loc)
           << what << " has more elements than can be addressed";
  uint64_t expectedBytes = nibbles ? (count + 1) / 2 : totalBytes;
  auto type = RankedTensorType::get(dims, elt->type);

  std::string blobName = tensor.name().empty() ? "tensor" : tensor.name();
  // Large tensors stored as the IR holds them (not packed nibbles, not
  // bools) become resources over the bytes where they already are.
  bool asIs = !nibbles && !elt->type.isInteger(1) && count > kInlineElements;

  // Gather the little-endian bytes from whichever field holds the data.
  std::string bytes;
  auto needCount = [&](int64_t have) -> LogicalResult {
    if (have == count)
      return success();
    return mlir::emitError(loc) << what << " holds " << have
                                << " values but its shape needs " << count;
  };
  auto appendAs = [&](auto value, auto tag) {
    decltype(tag) v = static_cast<decltype(tag)>(value);
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(v));
  };
  if (tensor.data_location() == pb::TensorProto::EXTERNAL) {
    auto buffer = readExternalData(tensor, expectedBytes, loc, what);
    if (failed(buffer))
      return failure();
    // Weights as they are in the file: the attribute keeps the mapping
    // (no copy in memory; pages are read when a pass or --emit reads them).
    ArrayRef<char> data((*buffer)->getBufferStart(),
                        (*buffer)->getBufferSize());
    if (asIs)
      if (ElementsAttr attr = sharedResource(
              type, blobName, data,
              std::shared_ptr<llvm::MemoryBuffer>(std::move(*buffer))))
        return attr;
    bytes.assign(data.begin(), data.end());
  } else if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != expectedBytes)
      return mlir::emitError(loc)
             << what << " holds " << tensor.raw_data().size()
             << " bytes but its shape needs " << expectedBytes;
    // Weights inside the model file: the attribute takes the parsed string
    // (no second copy of the weights while importing).
    if (asIs && ownedRaw &&
        reinterpret_cast<uintptr_t>(ownedRaw->data()) % alignof(uint64_t) ==
            0) {
      auto owner = std::make_shared<std::string>(std::move(*ownedRaw));
      return sharedResource(type, blobName,
                            ArrayRef<char>(owner->data(), owner->size()),
                            owner);
    }
    bytes = tensor.raw_data();
  } else if (nibbles) {
    return mlir::emitError(loc) << what << " holds 4-bit integers outside "
                                           "raw_data, which is not supported";
  } else {
    switch (tensor.data_type()) {
    case pb::TensorProto::FLOAT:
      if (failed(needCount(tensor.float_data_size())))
        return failure();
      for (float v : tensor.float_data())
        appendAs(v, float());
      break;
    case pb::TensorProto::DOUBLE:
      if (failed(needCount(tensor.double_data_size())))
        return failure();
      for (double v : tensor.double_data())
        appendAs(v, double());
      break;
    case pb::TensorProto::INT64:
      if (failed(needCount(tensor.int64_data_size())))
        return failure();
      for (int64_t v : tensor.int64_data())
        appendAs(v, int64_t());
      break;
    case pb::TensorProto::UINT32:
    case pb::TensorProto::UINT64:
      if (failed(needCount(tensor.uint64_data_size())))
        return failure();
      for (uint64_t v : tensor.uint64_data()) {
        if (elt->bytes == 4)
          appendAs(v, uint32_t());
        else
          appendAs(v, uint64_t());
      }
      break;
    default: // int32_data holds one element each for the narrow types.
      if (failed(needCount(tensor.int32_data_size())))
        return failure();
      for (int32_t v : tensor.int32_data()) {
        if (elt->bytes == 1)
          appendAs(v, uint8_t());
        else if (elt->bytes == 2)
          appendAs(v, uint16_t());
        else
          appendAs(v, int32_t());
      }
      break;
    }
  }

  if (nibbles) {
    std::string wide(count, 0);
    for (int64_t i = 0; i < count; ++i) {
      auto byte = static_cast<uint8_t>(bytes[i / 2]);
      int nibble = i % 2 ? byte >> 4 : byte & 15;
      wide[i] = static_cast<char>(signedNibbles && nibble >= 8 ? nibble - 16
                                                               : nibble);
    }
    bytes = std::move(wide);
  }
  if (elt->type.isInteger(1)) {
    SmallVector<bool> bools;
    for (char c : bytes)
      bools.push_back(c != 0);
    return ElementsAttr(DenseElementsAttr::get(type, bools));
  }
  if (count <= kInlineElements) {
    ArrayRef<char> raw(bytes.data(), bytes.size());
    return ElementsAttr(DenseElementsAttr::getFromRawBuffer(type, raw));
  }
  auto blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(bytes.data(), bytes.size()), alignof(uint64_t));
  return ElementsAttr(
      DenseResourceElementsAttr::get(type, blobName, std::move(blob)));
}

LogicalResult Importer::checkOpsets(const pb::ModelProto &model) {
  for (const auto &opset : model.opset_import()) {
    if (!isDefaultDomain(opset.domain())) {
      domainOpsets[opset.domain()] = opset.version();
      continue;
    }
    defaultOpset = opset.version();
    if (defaultOpset < kMinOpset || defaultOpset > kMaxOpset)
      return fileError() << "unsupported opset " << defaultOpset
                         << " of the default ONNX domain (supported: "
                         << kMinOpset << " to " << kMaxOpset << ")";
  }
  if (!defaultOpset)
    return fileError() << "the model imports no opset of the default ONNX "
                          "domain";
  return success();
}

LogicalResult Importer::sortNodes(const pb::GraphProto &graph,
                                  SmallVectorImpl<int> &order) {
  llvm::StringMap<int> producer; // value name -> node index, -1 = graph
  for (const auto &init : graph.initializer())
    producer[init.name()] = -1;
  for (const auto &input : graph.input())
    producer[input.name()] = -1;
  int numNodes = graph.node_size();
  for (int i = 0; i < numNodes; ++i) {
    for (const std::string &out : graph.node(i).output()) {
      if (out.empty())
        continue;
      auto [it, inserted] = producer.try_emplace(out, i);
      if (!inserted) {
        std::string other =
            it->second < 0 ? "a graph input or initializer"
                           : "node '" + graph.node(it->second).name() + "'";
        return mlir::emitError(nodeLoc(graph.node(i), i))
               << "value '" << out << "' is defined twice (also by " << other
               << ")";
      }
    }
  }
  std::vector<SmallVector<int>> users(numNodes);
  std::vector<int> pending(numNodes, 0);
  for (int i = 0; i < numNodes; ++i) {
    const auto &node = graph.node(i);
    for (const std::string &in : node.input()) {
      if (in.empty())
        continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return mlir::emitError(nodeLoc(node, i))
               << node.op_type() << " node uses '" << in
               << "', which no node, initializer or graph input defines";
      if (it->second >= 0) {
        users[it->second].push_back(i);
        ++pending[i];
      }
    }
  }
  // Always take the earliest ready node, so a graph that is already sorted
  // keeps its order.
  std::set<int> ready;
  for (int i = 0; i < numNodes; ++i)
    if (!pending[i])
      ready.insert(i);
  while (!ready.empty()) {
    int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0)
        ready.insert(u);
  }
  if (static_cast<int>(order.size()) != numNodes) {
    for (int i = 0; i < numNodes; ++i)
      if (pending[i])
        return mlir::emitError(nodeLoc(graph.node(i), i))
               << "the graph has a cycle through this "
               << graph.node(i).op_type() << " node";
  }
  return success();
}

FailureOr<Attribute> Importer::convertAttribute(const pb::AttributeProto &attr,
                                                Location loc) {
  Builder b(ctx);
  Type si64 = IntegerType::get(ctx, 64, IntegerType::Signed);
  switch (attr.type()) {
  case pb::AttributeProto::FLOAT:
    return Attribute(b.getF32FloatAttr(attr.f()));
  case pb::AttributeProto::INT:
    return Attribute(IntegerAttr::get(si64, attr.i()));
  case pb::AttributeProto::STRING:
    return Attribute(b.getStringAttr(attr.s()));
  case pb::AttributeProto::INTS:
    return Attribute(b.getI64ArrayAttr(
        SmallVector<int64_t>(attr.ints().begin(), attr.ints().end())));
  case pb::AttributeProto::FLOATS:
    return Attribute(b.getF32ArrayAttr(
        SmallVector<float>(attr.floats().begin(), attr.floats().end())));
  case pb::AttributeProto::STRINGS: {
    SmallVector<Attribute> strs;
    for (const std::string &s : attr.strings())
      strs.push_back(b.getStringAttr(s));
    return Attribute(b.getArrayAttr(strs));
  }
  case pb::AttributeProto::TENSOR: {
    auto value = tensorAttr(attr.t(), loc, "attribute '" + attr.name() + "'");
    if (failed(value))
      return failure();
    return Attribute(*value);
  }
  default:
    return mlir::emitError(loc) << "attribute '" << attr.name()
                                << "' has an unsupported kind (graphs, "
                                   "sparse tensors and type protos are not "
                                   "imported)";
  }
}

ArrayAttr Importer::dimParams(const pb::ValueInfoProto &info) {
  if (!info.type().has_tensor_type() || !info.type().tensor_type().has_shape())
    return nullptr;
  SmallVector<Attribute> names;
  bool any = false;
  for (const auto &dim : info.type().tensor_type().shape().dim()) {
    names.push_back(builder.getStringAttr(dim.dim_param()));
    any |= !dim.dim_param().empty();
  }
  return any ? builder.getArrayAttr(names) : nullptr;
}

Value Importer::noneValue(Location loc) {
  if (!none)
    none = mlir::onnx::NoValueOp::create(builder, loc, builder.getNoneType());
  return none;
}

LogicalResult Importer::importNode(const pb::NodeProto &node, int index) {
  Location loc = nodeLoc(node, index);
  StringRef opType = node.op_type(), domain = node.domain();
  std::optional<mlir::onnx::OpArity> arity = mlir::onnx::lookupOpArity(opType);
  bool supported =
      arity && ((isDefaultDomain(domain) && !isContribOnly(opType)) ||
                (domain == "com.microsoft" && isSupportedContribOp(opType)));
  if (!supported)
    return mlir::emitError(loc)
           << "unsupported ONNX operator '" << opType << "' (domain '"
           << (domain.empty() ? "ai.onnx" : domain) << "', opset "
           << (isDefaultDomain(domain) ? defaultOpset
                                       : domainOpsets.lookup(domain))
           << ")";

  SmallVector<NamedAttribute> attrs;
  llvm::StringSet<> attrNames;
  for (const auto &attr : node.attribute()) {
    // Two values for one name: which one counts is not defined (and an op
    // would take one of the two, unchecked, as its property).
    if (!attrNames.insert(attr.name()).second)
      return mlir::emitError(loc) << "attribute '" << attr.name()
                                  << "' given more than once";
    auto value = convertAttribute(attr, loc);
    if (failed(value))
      return failure();
    attrs.push_back(builder.getNamedAttr(attr.name(), *value));
  }
  // Operands; absent optional inputs are `none`.
  SmallVector<Value> operands;
  for (const std::string &in : node.input())
    operands.push_back(in.empty() ? noneValue(loc) : values.lookup(in));
  if (isDefaultDomain(domain) &&
      failed(moe::detail::normalizeNode(
          opType, defaultOpset, loc, builder, [&] { return noneValue(loc); },
          attrs, operands)))
    return failure();
  if (arity->inputs >= 0) {
    if (static_cast<int>(operands.size()) > arity->inputs)
      return mlir::emitError(loc)
             << opType << " takes at most " << arity->inputs
             << " inputs, the node has " << operands.size();
    while (static_cast<int>(operands.size()) < arity->inputs)
      operands.push_back(noneValue(loc));
  }
  int numResults =
      arity->outputs >= 0 ? arity->outputs : std::max(node.output_size(), 1);
  if (node.output_size() > numResults)
    return mlir::emitError(loc)
           << opType << " has at most " << numResults
           << " outputs, the node has " << node.output_size();

  DictionaryAttr attrDict = DictionaryAttr::get(ctx, attrs);
  SmallVector<Type> types;
  if (auto error = mlir::onnx::inferResultTypes(opType, operands, attrDict,
                                                numResults, types))
    return mlir::emitError(loc) << opType << ": " << *error;
  // Declared value_info refines what inference left dynamic; an absent
  // optional output is `none`.
  for (int i = 0; i < numResults; ++i) {
    std::string name = i < node.output_size() ? node.output(i) : "";
    if (name.empty()) {
      if (i > 0)
        types[i] = NoneType::get(ctx);
      continue;
    }
    auto info = valueInfos.find(name);
    if (info == valueInfos.end())
      continue;
    auto declared = valueType(*info->second, loc);
    if (failed(declared))
      return failure();
    auto inferred = dyn_cast<RankedTensorType>(types[i]);
    auto given = dyn_cast<RankedTensorType>(*declared);
    if (!given)
      continue;
    if (!inferred) {
      types[i] = given;
      continue;
    }
    if (inferred.getElementType() != given.getElementType() ||
        inferred.getRank() != given.getRank())
      return mlir::emitError(loc)
             << "value_info declares '" << name << "' as " << given << " but "
             << opType << " computes " << inferred;
    SmallVector<int64_t> dims;
    for (auto [a, b] : llvm::zip(inferred.getShape(), given.getShape())) {
      if (a != ShapedType::kDynamic && b != ShapedType::kDynamic && a != b)
        return mlir::emitError(loc)
               << "value_info declares '" << name << "' as " << given << " but "
               << opType << " computes " << inferred;
      dims.push_back(a == ShapedType::kDynamic ? b : a);
    }
    types[i] = RankedTensorType::get(dims, inferred.getElementType());
  }

  OperationState state(loc, ("onnx." + opType).str());
  // Attributes of the wrong kind would otherwise be dropped silently when the
  // op stores them as properties.
  NamedAttrList attrList(attrs);
  if (failed(state.name.verifyInherentAttrs(
          attrList, [&] { return mlir::emitError(loc) << opType << ": "; })))
    return failure();
  state.addOperands(operands);
  state.addTypes(types);
  state.addAttributes(attrs);
  Operation *op = builder.create(state);
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      values[node.output(i)] = op->getResult(i);
  return success();
}

OwningOpRef<ModuleOp> Importer::run(pb::ModelProto &model) {
  if (!model.has_graph()) {
    fileError() << "the model has no graph";
    return nullptr;
  }
  if (failed(checkOpsets(model)))
    return nullptr;
  const pb::GraphProto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(ctx, path, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());

  for (const auto &info : graph.value_info())
    valueInfos[info.name()] = &info;
  for (const auto &info : graph.output())
    valueInfos[info.name()] = &info;

  // Graph inputs that are not initializers are the function's arguments.
  llvm::StringSet<> initializerNames;
  for (const auto &init : graph.initializer())
    initializerNames.insert(init.name());
  SmallVector<Type> argTypes;
  SmallVector<const pb::ValueInfoProto *> args;
  for (const auto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    auto type = valueType(input, fileLoc);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    args.push_back(&input);
  }

  SmallVector<int> order;
  if (failed(sortNodes(graph, order)))
    return nullptr;

  std::string funcName = graph.name();
  if (funcName.empty() ||
      !llvm::all_of(funcName, [](char c) { return isalnum(c) || c == '_'; }))
    funcName = "main_graph";
  auto func = func::FuncOp::create(builder, fileLoc, funcName,
                                   builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  for (auto [i, info] : llvm::enumerate(args)) {
    values[info->name()] = body->getArgument(i);
    func.setArgAttr(i, "onnx.name", builder.getStringAttr(info->name()));
    if (ArrayAttr dims = dimParams(*info))
      func.setArgAttr(i, "onnx.dims", dims);
  }
  builder.setInsertionPointToStart(body);

  for (pb::TensorProto &init :
       *model.mutable_graph()->mutable_initializer()) {
    // (mutable_raw_data would mark a tensor without raw data as having it.)
    auto value =
        tensorAttr(init, fileLoc, "initializer '" + init.name() + "'",
                   init.has_raw_data() ? init.mutable_raw_data() : nullptr);
    if (failed(value))
      return nullptr;
    Location loc = NameLoc::get(builder.getStringAttr(init.name()));
    values[init.name()] = mlir::onnx::ConstantOp::create(
        builder, loc, cast<TypedAttr>(*value).getType(), *value);
  }
  for (int i : order)
    if (failed(importNode(graph.node(i), i)))
      return nullptr;

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const auto &output : graph.output()) {
    Value v = values.lookup(output.name());
    if (!v) {
      fileError() << "graph output '" << output.name()
                  << "' is not defined by any node, initializer or input";
      return nullptr;
    }
    results.push_back(v);
    resultTypes.push_back(v.getType());
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setType(builder.getFunctionType(argTypes, resultTypes));
  for (auto [i, output] : llvm::enumerate(graph.output())) {
    func.setResultAttr(i, "onnx.name", builder.getStringAttr(output.name()));
    if (ArrayAttr dims = dimParams(output))
      func.setResultAttr(i, "onnx.dims", dims);
  }

  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

std::string mlir::moe::describeONNXLocation(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return file.getFilename().str();
  if (auto name = dyn_cast<NameLoc>(loc)) {
    if (auto opType = dyn_cast<NameLoc>(name.getChildLoc()))
      return (opType.getName().strref() + " node '" + name.getName().strref() +
              "'")
          .str();
    return ("'" + name.getName().strref() + "'").str();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

bool mlir::moe::isONNXPath(StringRef path) {
  return path.ends_with(".onnx") || path.ends_with(".onnxtxt");
}

OwningOpRef<ModuleOp> mlir::moe::importONNXBuffer(StringRef bytes,
                                                  StringRef path, bool text,
                                                  MLIRContext *context) {
  context->loadDialect<mlir::onnx::ONNXDialect, func::FuncDialect>();
  pb::ModelProto model;
  std::string error;
  if (!detail::parseModel(bytes.data(), bytes.size(), text, model, error)) {
    mlir::emitError(FileLineColLoc::get(context, path, 0, 0))
        << "cannot parse ONNX model: " << error;
    return nullptr;
  }
  return Importer(context, path).run(model);
}

OwningOpRef<ModuleOp> mlir::moe::importONNXFile(StringRef path,
                                                MLIRContext *context) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    mlir::emitError(FileLineColLoc::get(context, path, 0, 0))
        << "cannot open '" << path << "': " << buffer.getError().message();
    return nullptr;
  }
  return importONNXBuffer((*buffer)->getBuffer(), path,
                          path.ends_with(".onnxtxt"), context);
}
