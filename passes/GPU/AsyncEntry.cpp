//===- AsyncEntry.cpp - entry functions on the caller's buffers and stream ===//
//
// Applications that hold their tensors on the device and queue work on
// streams of their own want a model call that neither copies its inputs
// nor waits for its kernels. For each entry function F this adds F__async:
// the inputs are the caller's device buffers, the outputs become arguments
// that kernels write in place (or a stream-ordered copy fills), and instead
// of waiting for the device to read the kernels' check flags, the host
// hands each flag word to the runtime, which reads it once the stream has
// run the call's work. Where F's host code needs more (it reads an input,
// or device results after its last wait), F gets no variant and says why.
//
//===----------------------------------------------------------------------===//

#include "HostMemory.h"
#include "moe/Passes/GPU.h"
#include "moe/Runtime/Symbols.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUASYNCENTRY
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Whether `buffer`'s uses (through views) are ones that leave its data to
/// the device: launches, fills, copies, size queries and returns.
bool onlyDeviceUses(Value buffer) {
  return moe::usedOnlyBy(buffer, [](Operation *user) {
    return isa<gpu::LaunchFuncOp, gpu::MemsetOp, gpu::MemcpyOp, memref::DimOp,
               func::ReturnOp>(user);
  });
}

/// A check after the last wait: `cf.assert (flag pred constant)`.
struct LateCheck {
  cf::AssertOp check;
  arith::CmpIOp compare;
  memref::LoadOp flag;
  bool mustEqual;
  int32_t value;
};

/// The call's last wait and the checks after it. What may follow the wait:
/// flag reads, constants, their comparisons, the asserts, frees (on the
/// host or on the stream).
struct Tail {
  gpu::WaitOp wait; // null when the function never waits
  SmallVector<LateCheck> checks;
};

FailureOr<Tail> analyzeTail(Block &body, std::string &why) {
  Tail tail;
  auto notAFlagCheck = [&] {
    why = "a check after the call's last wait is not a comparison of a "
          "flag word with a constant";
    return failure();
  };
  for (Operation &op : llvm::reverse(body)) {
    if (auto wait = dyn_cast<gpu::WaitOp>(op); wait && !wait.getAsyncToken()) {
      tail.wait = wait;
      break;
    }
    if (auto check = dyn_cast<cf::AssertOp>(op)) {
      auto compare = check.getArg().getDefiningOp<arith::CmpIOp>();
      auto pred = compare ? compare.getPredicate() : arith::CmpIPredicate::slt;
      if (!compare || (pred != arith::CmpIPredicate::eq &&
                       pred != arith::CmpIPredicate::ne))
        return notAFlagCheck();
      Value lhs = compare.getLhs(), rhs = compare.getRhs();
      if (!lhs.getDefiningOp<memref::LoadOp>())
        std::swap(lhs, rhs);
      auto flag = lhs.getDefiningOp<memref::LoadOp>();
      auto constant = rhs.getDefiningOp<arith::ConstantIntOp>();
      if (!flag || !flag->hasAttr(moe::kCheckFlagAttr) || !constant ||
          !flag.getType().isSignlessInteger(32))
        return notAFlagCheck();
      tail.checks.push_back({check, compare, flag,
                             pred == arith::CmpIPredicate::eq,
                             static_cast<int32_t>(constant.value())});
      continue;
    }
    // Frees, host and stream-ordered (chains of them start with a token
    // wait), need nothing of the device.
    auto load = dyn_cast<memref::LoadOp>(op);
    if ((load && load->hasAttr(moe::kCheckFlagAttr)) ||
        isa<arith::ConstantOp, arith::CmpIOp, memref::DeallocOp,
            gpu::DeallocOp, gpu::WaitOp, func::ReturnOp>(op))
      continue;
    why = "host code after the call's last wait uses what the device "
          "computed ('" +
          op.getName().getStringRef().str() + "')";
    return failure();
  }
  return tail;
}

std::string tensorName(DictionaryAttr abi, StringRef key, unsigned i) {
  auto list = abi ? abi.getAs<ArrayAttr>(key) : ArrayAttr();
  if (!list || i >= list.size())
    return "#" + std::to_string(i);
  auto name = cast<DictionaryAttr>(list[i]).getAs<StringAttr>("name");
  return name ? name.str() : "#" + std::to_string(i);
}

bool isIdentity(Value v) {
  return cast<MemRefType>(v.getType()).getLayout().isIdentity();
}

/// The value a copy can read: `v` or, through casts, the first value of
/// identity layout (gpu.memcpy's lowering takes no strides).
Value plainSource(Value v) {
  while (!isIdentity(v)) {
    auto castOp = v.getDefiningOp<memref::CastOp>();
    if (!castOp)
      return nullptr;
    v = castOp.getSource();
  }
  return v;
}

/// The allocation of this function that `v` is, or views row-major through
/// casts and reshapes (which keep every element where it is); whether only
/// casts lie between in `direct`.
Operation *viewedAlloc(Value v, bool *direct = nullptr) {
  if (direct)
    *direct = true;
  for (;;) {
    Operation *def = v.getDefiningOp();
    if (isa_and_nonnull<gpu::AllocOp, memref::AllocOp>(def))
      return def;
    if (!isa_and_nonnull<memref::CastOp, memref::ReshapeOp,
                         memref::ExpandShapeOp, memref::CollapseShapeOp>(def))
      return nullptr;
    if (direct && !isa<memref::CastOp>(def))
      *direct = false;
    v = def->getOperand(0);
  }
}

/// The allocation whose uses can take the caller's buffer for result `v`:
/// of identity layout, viewed row-major by `v`, only the device touches
/// it.
Operation *replaceableAlloc(Value v) {
  Operation *alloc = viewedAlloc(v);
  if (!alloc || !isIdentity(v))
    return nullptr;
  auto gpuAlloc = dyn_cast<gpu::AllocOp>(alloc);
  if (gpuAlloc && gpuAlloc.getAsyncDependencies().size() > 1)
    return nullptr;
  Value buffer = alloc->getResult(0);
  return isIdentity(buffer) && onlyDeviceUses(buffer) ? alloc : nullptr;
}

/// `sizes`' row-major strides, static where the sizes allow.
SmallVector<OpFoldResult> rowMajorStrides(OpBuilder &b, Location loc,
                                          ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 2; d >= 0; --d) {
    auto inner = getConstantIntValue(strides[d + 1]);
    auto size = getConstantIntValue(sizes[d + 1]);
    if (inner && size) {
      strides[d] = b.getIndexAttr(*inner * *size);
      continue;
    }
    // One op per statement: argument order differs between compilers.
    Value stride = getValueOrCreateConstantIndexOp(b, loc, strides[d + 1]);
    Value extent = getValueOrCreateConstantIndexOp(b, loc, sizes[d + 1]);
    strides[d] = arith::MulIOp::create(b, loc, stride, extent).getResult();
  }
  return strides;
}

/// The number of elements of `sizes`, folded where static.
OpFoldResult product(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes) {
  int64_t known = 1;
  Value n;
  for (OpFoldResult size : sizes) {
    if (auto c = getConstantIntValue(size)) {
      known *= *c;
      continue;
    }
    Value v = cast<Value>(size);
    n = n ? arith::MulIOp::create(b, loc, n, v).getResult() : v;
  }
  if (!n)
    return b.getIndexAttr(known);
  if (known == 1)
    return n;
  return arith::MulIOp::create(b, loc, n,
                               arith::ConstantIndexOp::create(b, loc, known))
      .getResult();
}

/// Fails the call when `out`'s sizes differ from `want`.
void checkSizes(OpBuilder &b, Location loc, Value out,
                ArrayRef<OpFoldResult> want, StringRef name) {
  auto outType = cast<MemRefType>(out.getType());
  for (auto [d, size] : llvm::enumerate(want)) {
    if (isa<Attribute>(size) && !outType.isDynamicDim(d))
      continue;
    Value wanted = getValueOrCreateConstantIndexOp(b, loc, size);
    Value got = memref::DimOp::create(b, loc, out, d);
    Value same =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wanted, got);
    cf::AssertOp::create(b, loc, same,
                         "output '" + name.str() + "': dimension " +
                             std::to_string(d) +
                             " of the buffer given differs from the result's "
                             "for these inputs");
  }
}

/// The sizes of an allocation's buffer.
SmallVector<OpFoldResult> allocSizes(Operation *alloc) {
  auto type = cast<MemRefType>(alloc->getResult(0).getType());
  ValueRange dynamic = isa<gpu::AllocOp>(alloc)
                           ? cast<gpu::AllocOp>(alloc).getDynamicSizes()
                           : cast<memref::AllocOp>(alloc).getDynamicSizes();
  SmallVector<OpFoldResult> sizes;
  Builder b(alloc->getContext());
  for (int64_t d = 0, next = 0; d < type.getRank(); ++d)
    sizes.push_back(type.isDynamicDim(d) ? OpFoldResult(dynamic[next++])
                                         : b.getIndexAttr(type.getDimSize(d)));
  return sizes;
}

struct GPUAsyncEntryPass : moe::impl::GPUAsyncEntryBase<GPUAsyncEntryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("moe.abi") && !fn.isExternal())
        entries.push_back(fn);
    for (func::FuncOp fn : entries) {
      std::string why = whyNot(fn);
      if (!why.empty()) {
        fn->setAttr(moe::kAsyncUnsupportedAttr,
                    StringAttr::get(&getContext(), why));
        continue;
      }
      if (failed(buildVariant(fn)))
        return signalPassFailure();
    }
  }

  /// Why `fn` can have no variant, or "".
  std::string whyNot(func::FuncOp fn) {
    auto abi = fn->getAttrOfType<DictionaryAttr>("moe.abi");
    if (!fn.getBody().hasOneBlock())
      return "its host code branches";
    Block &body = fn.getBody().front();
    for (BlockArgument arg : body.getArguments())
      if (!onlyDeviceUses(arg))
        return "host code reads input '" +
               tensorName(abi, "inputs", arg.getArgNumber()) +
               "', which the caller holds in device memory";
    std::string why;
    if (failed(analyzeTail(body, why)))
      return why;
    for (auto [i, v] : llvm::enumerate(body.getTerminator()->getOperands()))
      if (!replaceableAlloc(v) && !plainSource(v))
        return "output '" + tensorName(abi, "outputs", i) +
               "' is a strided view";
    return "";
  }

  LogicalResult buildVariant(func::FuncOp original) {
    MLIRContext *ctx = &getContext();
    auto abi = original->getAttrOfType<DictionaryAttr>("moe.abi");
    auto fn = cast<func::FuncOp>(original->clone());
    fn->removeAttr("moe.abi");
    fn.setName((original.getName() + moe::kAsyncEntrySuffix).str());
    SymbolTable(getOperation()).insert(fn, std::next(original->getIterator()));
    Block &body = fn.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());

    // The outputs as arguments after the inputs.
    SmallVector<Value> outs;
    for (Type t : fn.getResultTypes()) {
      auto type = cast<MemRefType>(t);
      auto plain = MemRefType::get(type.getShape(), type.getElementType());
      outs.push_back(body.addArgument(plain, fn.getLoc()));
    }
    std::string why;
    FailureOr<Tail> tail = analyzeTail(body, why);
    if (failed(tail))
      return fn.emitError(why);

    OpBuilder b(ctx);
    SmallVector<std::pair<Value, Value>> copies; // (out, source)
    DenseSet<Operation *> taken;
    SmallVector<std::pair<Value, Value>> reshaped; // (out, result)
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      std::string name = tensorName(abi, "outputs", i);
      Operation *alloc = replaceableAlloc(v);
      if (!alloc || !taken.insert(alloc).second) {
        copies.push_back({outs[i], plainSource(v)});
        continue;
      }
      // Kernels write the caller's buffer: the allocation becomes it, or
      // its row-major view in the allocation's shape.
      bool direct;
      viewedAlloc(v, &direct);
      Value buffer = alloc->getResult(0);
      auto bufferType = cast<MemRefType>(buffer.getType());
      Location at = alloc->getLoc();
      b.setInsertionPointAfter(alloc);
      SmallVector<OpFoldResult> sizes = allocSizes(alloc);
      Value out = outs[i];
      if (direct) {
        checkSizes(b, at, out, sizes, name);
      } else {
        OpFoldResult want = product(b, at, sizes);
        OpFoldResult got = product(b, at, memref::getMixedSizes(b, at, out));
        if (!isEqualConstantIntOrValue(want, got)) {
          Value wanted = getValueOrCreateConstantIndexOp(b, at, want);
          Value given = getValueOrCreateConstantIndexOp(b, at, got);
          Value same = arith::CmpIOp::create(b, at, arith::CmpIPredicate::eq,
                                             wanted, given);
          cf::AssertOp::create(
              b, at, same,
              "output '" + name +
                  "': the buffer given does not hold as many elements as the "
                  "result for these inputs");
        }
        // Of the buffer's own (identity) type: a strided type, cast back,
        // would be folded into users whose lowering wants identity layouts.
        out = memref::ReinterpretCastOp::create(
            b, at, bufferType, out, b.getIndexAttr(0), sizes,
            rowMajorStrides(b, at, sizes));
        reshaped.push_back({outs[i], v});
      }
      if (out.getType() != bufferType)
        out = memref::CastOp::create(b, at, bufferType, out);
      buffer.replaceAllUsesWith(out);
      if (auto gpuAlloc = dyn_cast<gpu::AllocOp>(alloc);
          gpuAlloc && gpuAlloc.getAsyncToken()) {
        // The token stands for the allocation's dependency, if any.
        Value token;
        if (gpuAlloc.getAsyncDependencies().empty())
          token = gpu::WaitOp::create(b, at, gpu::AsyncTokenType::get(ctx),
                                      ValueRange())
                      .getAsyncToken();
        else
          token = gpuAlloc.getAsyncDependencies()[0];
        gpuAlloc.getAsyncToken().replaceAllUsesWith(token);
      }
      alloc->erase();
    }
    // A result reshaped from the buffer has the shape asked for.
    b.setInsertionPoint(ret);
    for (auto [out, v] : reshaped) {
      unsigned i = llvm::find(outs, out) - outs.begin();
      checkSizes(b, ret.getLoc(), out, memref::getMixedSizes(b, ret.getLoc(), v),
                 tensorName(abi, "outputs", i));
    }

    // Copies on the stream, after the call's work; checks of their sizes
    // first.
    Location loc = ret.getLoc();
    if (!copies.empty()) {
      b.setInsertionPoint(tail->wait ? tail->wait.getOperation() : ret);
      SmallVector<Value> deps;
      if (tail->wait)
        deps.append(tail->wait.getAsyncDependencies().begin(),
                    tail->wait.getAsyncDependencies().end());
      else
        deps.push_back(gpu::WaitOp::create(b, loc,
                                           gpu::AsyncTokenType::get(ctx),
                                           ValueRange())
                           .getAsyncToken());
      for (auto [out, source] : copies) {
        unsigned i = llvm::find(outs, out) - outs.begin();
        checkSizes(b, loc, out, memref::getMixedSizes(b, loc, source),
                   tensorName(abi, "outputs", i));
        auto copy = gpu::MemcpyOp::create(b, loc, gpu::AsyncTokenType::get(ctx),
                                          deps, out, source);
        deps.assign({copy.getAsyncToken()});
      }
      // Buffers of the function that were results are freed once copied.
      for (auto [out, source] : copies) {
        Operation *alloc = viewedAlloc(source);
        if (!alloc || !taken.insert(alloc).second)
          continue;
        Value buffer = alloc->getResult(0);
        if (isa<memref::AllocOp>(alloc)) {
          memref::DeallocOp::create(b, loc, buffer);
          continue;
        }
        auto free = gpu::DeallocOp::create(b, loc, gpu::AsyncTokenType::get(ctx),
                                           deps, buffer);
        deps.assign({free.getAsyncToken()});
      }
    }

    // The flag words go to the runtime instead of being read now.
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    auto i32 = b.getI32Type();
    func::FuncOp callee;
    if (!tail->checks.empty())
      callee = declareCheckLater(b, ptrType);
    unsigned counter = 0;
    for (LateCheck &late : tail->checks) {
      b.setInsertionPoint(late.check);
      Location at = late.check.getLoc();
      Value buffer = late.flag.getMemRef();
      auto type = cast<MemRefType>(buffer.getType());
      Value base =
          memref::ExtractAlignedPointerAsIndexOp::create(b, at, buffer);
      auto meta = memref::ExtractStridedMetadataOp::create(b, at, buffer);
      Value element = meta.getOffset();
      for (auto [d, index] : llvm::enumerate(late.flag.getIndices())) {
        Value step =
            arith::MulIOp::create(b, at, index, meta.getStrides()[d]);
        element = arith::AddIOp::create(b, at, element, step);
      }
      Value bytes = arith::ConstantIndexOp::create(
          b, at, type.getElementTypeBitWidth() / 8);
      Value offset = arith::MulIOp::create(b, at, element, bytes);
      Value word = arith::AddIOp::create(b, at, base, offset);
      Value mustEqual = arith::ConstantIntOp::create(b, at, i32, late.mustEqual);
      Value value = arith::ConstantIntOp::create(b, at, i32, late.value);
      std::string message = late.check.getMsg().str();
      message.push_back('\0');
      Value text = LLVM::createGlobalString(
          at, b, (fn.getName() + "_check_" + Twine(counter++)).str(), message,
          LLVM::Linkage::Internal);
      func::CallOp::create(b, at, callee,
                           ValueRange{word, mustEqual, value, text});
      late.check.erase();
      if (late.compare->use_empty())
        late.compare.erase();
      if (late.flag->use_empty())
        late.flag.erase();
    }
    if (tail->wait)
      tail->wait.erase();
    b.setInsertionPoint(ret);
    func::ReturnOp::create(b, loc);
    ret.erase();

    SmallVector<Type> args(fn.getArgumentTypes());
    for (Value out : outs)
      args.push_back(out.getType());
    fn.setType(FunctionType::get(ctx, args, {}));
    SmallVector<Attribute> argAttrs;
    for (unsigned i = 0; i < original.getNumArguments(); ++i)
      argAttrs.push_back(original.getArgAttrDict(i)
                             ? Attribute(original.getArgAttrDict(i))
                             : DictionaryAttr::get(ctx));
    for (unsigned i = 0; i < original.getNumResults(); ++i)
      argAttrs.push_back(original.getResultAttrDict(i)
                             ? Attribute(original.getResultAttrDict(i))
                             : DictionaryAttr::get(ctx));
    fn.setAllArgAttrs(argAttrs);
    // Without a wait, the host never needs the device's results: the
    // call's work can be captured into a CUDA graph and replayed.
    bool waits = false;
    fn.walk([&](gpu::WaitOp wait) { waits |= !wait.getAsyncToken(); });
    if (!waits)
      fn->setAttr(moe::kGraphCapturableAttr, UnitAttr::get(ctx));
    fn.setAllResultAttrs(ArrayRef<DictionaryAttr>());
    return success();
  }

  func::FuncOp declareCheckLater(OpBuilder &b, Type ptrType) {
    ModuleOp module = getOperation();
    StringRef name = moe::runtime::kCudaCheckLater;
    if (auto fn = module.lookupSymbol<func::FuncOp>(name))
      return fn;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    auto type = b.getFunctionType(
        {b.getIndexType(), b.getI32Type(), b.getI32Type(), ptrType}, {});
    auto fn = func::FuncOp::create(b, module.getLoc(), name, type);
    fn.setPrivate();
    return fn;
  }
};
} // namespace
