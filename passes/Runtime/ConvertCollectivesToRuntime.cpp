//===- ConvertCollectivesToRuntime.cpp - all-to-all -> runtime calls ------===//
//
// The exchange itself belongs to the runtime (MPI on a communication
// thread); generated code hands it the buffers. Lowering happens on tensors,
// before bufferization, so that one-shot bufferization and buffer
// deallocation see every buffer the calls touch. The runtime copies the rows
// when the exchange starts, so the input's buffer may be freed or reused
// right after the start call.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/Runtime.h"
#include "moe/Runtime/Symbols.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTCOLLECTIVESTORUNTIME
#include "passes/Runtime/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// The blocking exchange is a start immediately waited for.
struct SplitAllToAll : OpRewritePattern<AllToAllOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllToAllOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, op.createAsync(rewriter, op.getInput(), op.getSendCounts())
                ->getResults());
    return success();
  }
};

/// The shard this module is the program of (moe-expert-parallel).
struct Shard {
  int64_t rank = -1, layout = 0;
};

Shard shardOf(Operation *op) {
  Shard shard;
  auto module = op->getParentOfType<ModuleOp>();
  auto dict = module ? module->getAttrOfType<DictionaryAttr>("moe.shard")
                     : DictionaryAttr();
  if (!dict)
    return shard;
  if (auto rank = dict.getAs<IntegerAttr>("rank"))
    shard.rank = rank.getInt();
  if (auto layout = dict.getAs<IntegerAttr>("layout"))
    shard.layout = layout.getInt();
  return shard;
}

/// The runtime's functions as LLVM declarations: plain C signatures, which
/// the C-interface wrapping of func.func declarations would change.
LLVM::LLVMFuncOp declare(PatternRewriter &rewriter, Operation *from,
                         StringRef name, ArrayRef<Type> inputs, Type result) {
  auto module = from->getParentOfType<ModuleOp>();
  OpBuilder::InsertionGuard guard(rewriter);
  FailureOr<LLVM::LLVMFuncOp> fn =
      LLVM::lookupOrCreateFn(rewriter, module, name, inputs, result);
  return succeeded(fn) ? *fn : LLVM::LLVMFuncOp();
}

/// The address of a tensor's (identity-layout, hence contiguous) buffer.
Value bufferAddress(PatternRewriter &rewriter, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  Value buffer = bufferization::ToBufferOp::create(rewriter, loc, memrefType,
                                                   tensor, /*readOnly=*/true);
  Value index =
      memref::ExtractAlignedPointerAsIndexOp::create(rewriter, loc, buffer);
  Value i64 =
      arith::IndexCastUIOp::create(rewriter, loc, rewriter.getI64Type(), index);
  return LLVM::IntToPtrOp::create(
      rewriter, loc, LLVM::LLVMPointerType::get(rewriter.getContext()), i64);
}

Value constI64(PatternRewriter &rewriter, Location loc, int64_t v) {
  return arith::ConstantIntOp::create(rewriter, loc, rewriter.getI64Type(), v);
}

/// A start and its wait become the runtime calls; rooted at the wait, which
/// is where the results are needed.
struct LowerStartWait : OpRewritePattern<AllToAllWaitOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllToAllWaitOp wait,
                                PatternRewriter &rewriter) const override {
    auto start = wait.getHandle().getDefiningOp<AllToAllStartOp>();
    if (!start)
      return rewriter.notifyMatchFailure(
          wait, "the handle does not come straight from a start");
    MLIRContext *ctx = getContext();
    Type i64 = rewriter.getI64Type();
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    Value input = start.getInput();
    auto inType = cast<RankedTensorType>(input.getType());
    int64_t width = inType.getDimSize(1);
    if (width == ShapedType::kDynamic)
      return rewriter.notifyMatchFailure(start, "dynamic row width");
    int64_t rowBytes = width * ((inType.getElementTypeBitWidth() + 7) / 8);
    int64_t ranks = start.getRanks();
    Shard shard = shardOf(start);

    LLVM::LLVMFuncOp startFn =
        declare(rewriter, start, runtime::kAllToAllStart,
                {ptr, i64, i64, ptr, i64, i64, i64}, i64);
    LLVM::LLVMFuncOp waitFn =
        declare(rewriter, start, runtime::kAllToAllWait, {i64}, i64);
    LLVM::LLVMFuncOp takeFn =
        declare(rewriter, start, runtime::kAllToAllTake, {i64, ptr, ptr},
                LLVM::LLVMVoidType::get(ctx));
    if (!startFn || !waitFn || !takeFn)
      return rewriter.notifyMatchFailure(start, "conflicting declarations");

    Location loc = start.getLoc();
    rewriter.setInsertionPoint(start);
    Value data = bufferAddress(rewriter, loc, input);
    Value counts = bufferAddress(rewriter, loc, start.getSendCounts());
    Value rows = arith::IndexCastOp::create(
        rewriter, loc, i64, tensor::DimOp::create(rewriter, loc, input, 0));
    Value handle = LLVM::CallOp::create(
                       rewriter, loc, startFn,
                       ValueRange{data, rows, constI64(rewriter, loc, rowBytes),
                                  counts, constI64(rewriter, loc, ranks),
                                  constI64(rewriter, loc, shard.rank),
                                  constI64(rewriter, loc, shard.layout)})
                       .getResult();

    loc = wait.getLoc();
    rewriter.setInsertionPoint(wait);
    Value received =
        LLVM::CallOp::create(rewriter, loc, waitFn, ValueRange{handle})
            .getResult();
    Value n = arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(),
                                         received);
    auto outType = cast<RankedTensorType>(wait.getOutput().getType());
    auto outBuffer =
        memref::AllocOp::create(rewriter, loc,
                                MemRefType::get({ShapedType::kDynamic, width},
                                                outType.getElementType()),
                                ValueRange{n}, rewriter.getI64IntegerAttr(64));
    auto countsType = cast<RankedTensorType>(wait.getRecvCounts().getType());
    auto countsBuffer = memref::AllocOp::create(
        rewriter, loc,
        MemRefType::get(countsType.getShape(), countsType.getElementType()));
    auto pointer = [&](Value buffer) -> Value {
      Value index =
          memref::ExtractAlignedPointerAsIndexOp::create(rewriter, loc, buffer);
      return LLVM::IntToPtrOp::create(
          rewriter, loc, ptr,
          arith::IndexCastUIOp::create(rewriter, loc, i64, index).getResult());
    };
    LLVM::CallOp::create(
        rewriter, loc, takeFn,
        ValueRange{handle, pointer(outBuffer), pointer(countsBuffer)});
    auto toTensor = [&](Value buffer, Type type) -> Value {
      auto bufType = cast<MemRefType>(buffer.getType());
      Value t = bufferization::ToTensorOp::create(
          rewriter, loc,
          RankedTensorType::get(bufType.getShape(), bufType.getElementType()),
          buffer, /*restrict=*/true, /*writable=*/true);
      return t.getType() == type
                 ? t
                 : tensor::CastOp::create(rewriter, loc, type, t).getResult();
    };
    Value out = toTensor(outBuffer, outType);
    Value recv = toTensor(countsBuffer, countsType);
    rewriter.replaceOp(wait, ValueRange{out, recv});
    rewriter.eraseOp(start);
    return success();
  }
};

struct ConvertCollectivesToRuntimePass
    : moe::impl::ConvertCollectivesToRuntimeBase<
          ConvertCollectivesToRuntimePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SplitAllToAll, LowerStartWait>(&getContext());
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa<AllToAllStartOp, AllToAllWaitOp, AllToAllOp>(op)) {
        op->emitError("cannot lower this exchange to the runtime: a start "
                      "must be waited for in the same region by the wait "
                      "that takes its handle, and rows must have a static "
                      "width");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
