//===- GPUExpertMatmul.cpp - moe.expert_matmul -> grouped GEMM kernel -----===//
//
// One launch for all experts: the dispatch pads every expert's row group to
// the row tile, so a block's 64 rows belong to one expert, found from the
// offsets; the block then computes a 64 x 64 output tile through workgroup
// memory. Accumulation is in f32 registers whatever the element type.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"
#include "moe/Passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUEXPERTMATMUL
#include "passes/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
// Tile shape: BM x BN outputs per block, BK-deep slices of the reduction in
// workgroup memory, TxT threads each holding (BM/T) x (BN/T) accumulators.
constexpr int64_t kTileM = 64, kTileN = 64, kTileK = 16, kThreads = 16;
constexpr const char *kKernelModule = "moe_kernels";
constexpr int64_t kPerThreadM = kTileM / kThreads, kPerThreadN = kTileN / kThreads;

/// A memref type with a fully dynamic strided layout: whatever layout
/// bufferization gives the operand, a cast to this type is valid.
MemRefType anyLayout(RankedTensorType t) {
  SmallVector<int64_t> strides(t.getRank(), ShapedType::kDynamic);
  return MemRefType::get(
      t.getShape(), t.getElementType(),
      StridedLayoutAttr::get(t.getContext(), ShapedType::kDynamic, strides));
}

/// Whether `offsets` start every row group at a multiple of the row tile.
bool paddedToTile(Value offsets) {
  auto dispatch = offsets.getDefiningOp<DispatchOp>();
  return dispatch && dispatch.getOffsets() == offsets &&
         dispatch.getBlock() % kTileM == 0;
}

struct KernelBuilder {
  ImplicitLocOpBuilder &b;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value minIdx(Value x, Value y) { return arith::MinUIOp::create(b, x, y); }
  Value toF32(Value v) {
    return v.getType().isF32() ? v : arith::ExtFOp::create(b, b.getF32Type(), v);
  }
  Value fromF32(Value v, Type t) {
    return t.isF32() ? v : arith::TruncFOp::create(b, t, v);
  }
  Value loadOffset(Value offsets, Value i) {
    Value v = memref::LoadOp::create(b, offsets, i);
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
};

struct ExpertMatmulToKernel : OpRewritePattern<ExpertMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!paddedToTile(op.getOffsets()))
      return rewriter.notifyMatchFailure(op, "row groups not padded to tiles");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KernelBuilder k{b};
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    auto resType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resType.getElementType();
    int64_t experts = wType.getDimSize(0);

    auto buffer = [&](Value t) -> Value {
      if (!t)
        return nullptr;
      auto type = anyLayout(cast<RankedTensorType>(t.getType()));
      return bufferization::ToBufferOp::create(b, type, t, /*readOnly=*/true);
    };
    Value x = buffer(op.getInput()), w = buffer(op.getWeight());
    Value offsets = buffer(op.getOffsets()), bias = buffer(op.getBias());
    Value rows = tensor::DimOp::create(b, op.getInput(), 0);
    Value n = tensor::DimOp::create(b, op.getWeight(), 1);
    Value kDim = tensor::DimOp::create(b, op.getWeight(), 2);
    SmallVector<Value> dynSizes;
    if (resType.isDynamicDim(0))
      dynSizes.push_back(rows);
    if (resType.isDynamicDim(1))
      dynSizes.push_back(n);
    auto outType = MemRefType::get(resType.getShape(), elt);
    Value out = memref::AllocOp::create(b, outType, dynSizes);

    Value one = k.idx(1);
    Value gridX = arith::CeilDivUIOp::create(b, n, k.idx(kTileN));
    Value gridY = arith::DivUIOp::create(b, rows, k.idx(kTileM));
    Value threads = k.idx(kThreads);
    SmallVector<Value> operands = {x, w, offsets};
    if (bias)
      operands.push_back(bias);
    operands.push_back(out);
    gpu::GPUFuncOp kernel = createKernel(op, operands);
    gpu::LaunchFuncOp::create(b, kernel, gpu::KernelDim3{gridX, gridY, one},
                              gpu::KernelDim3{threads, threads, one},
                              /*dynamicSharedMemorySize=*/nullptr, operands);
    Value result = bufferization::ToTensorOp::create(
        b, resType, out, /*restrict=*/true, /*writable=*/true);
    rewriter.replaceOp(op, result);
    return success();
  }

  /// The kernel body: one 64 x 64 tile of the output per block.
  static gpu::GPUFuncOp createKernel(ExpertMatmulOp op, ValueRange operands) {
    auto module = op->getParentOfType<ModuleOp>();
    MLIRContext *ctx = op.getContext();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    OpBuilder mb(ctx);
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModule);
    if (!kernels) {
      mb.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(mb, module.getLoc(), kKernelModule);
    }
    mb.setInsertionPointToEnd(kernels.getBody());
    auto fnType = FunctionType::get(ctx, TypeRange(operands), {});
    auto fn = gpu::GPUFuncOp::create(mb, op.getLoc(), "expert_matmul", fnType);
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
    SymbolTable(kernels).insert(fn);

    ImplicitLocOpBuilder b(op.getLoc(), ctx);
    KernelBuilder k{b};
    bool hasBias = op.getBias() != nullptr;
    Block &body = fn.getBody().front();
    b.setInsertionPointToStart(&body);
    Value x = body.getArgument(0), w = body.getArgument(1);
    Value offsets = body.getArgument(2);
    Value bias = hasBias ? body.getArgument(3) : nullptr;
    Value out = body.getArguments().back();
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    int64_t experts = cast<MemRefType>(w.getType()).getDimSize(0);
    auto workgroup =
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    auto tileA = MemRefType::get({kTileK, kTileM}, b.getF32Type(),
                                 MemRefLayoutAttrInterface(), workgroup);
    auto tileB = MemRefType::get({kTileK, kTileN}, b.getF32Type(),
                                 MemRefLayoutAttrInterface(), workgroup);
    Value sA = fn.addWorkgroupAttribution(tileA, op.getLoc());
    Value sB = fn.addWorkgroupAttribution(tileB, op.getLoc());
    Value one = k.idx(1), threads = k.idx(kThreads);
    Value n = memref::DimOp::create(b, w, 1);
    Value kDim = memref::DimOp::create(b, w, 2);
    {
      Value tx = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
      Value ty = gpu::ThreadIdOp::create(b, gpu::Dimension::y);
      Value r0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::y),
                       k.idx(kTileM));
      Value n0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                       k.idx(kTileN));
      Value total = k.loadOffset(offsets, k.idx(experts));
      // Output positions of this thread: rows ty + T*i, columns tx + T*j
      // (consecutive threads write consecutive columns).
      auto rowOf = [&](int64_t i) {
        return k.add(r0, k.add(ty, k.idx(kThreads * i)));
      };
      auto colOf = [&](int64_t j) {
        return k.add(n0, k.add(tx, k.idx(kThreads * j)));
      };
      auto store = [&](int64_t i, int64_t j, Value v) {
        Value col = colOf(j);
        auto guardIf = scf::IfOp::create(b, k.lt(col, n), false);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&guardIf.getThenRegion().front());
        memref::StoreOp::create(b, v, out, ValueRange{rowOf(i), col});
      };

      auto active = scf::IfOp::create(b, k.lt(r0, total), true);
      // Padding tiles past the last group are zero rows.
      b.setInsertionPointToStart(&active.getElseRegion().front());
      Value zero = arith::ConstantOp::create(b, b.getZeroAttr(elt));
      for (int64_t i = 0; i < kPerThreadM; ++i)
        for (int64_t j = 0; j < kPerThreadN; ++j)
          store(i, j, zero);

      b.setInsertionPointToStart(&active.getThenRegion().front());
      // The expert owning row r0: the number of group ends at or before it.
      Value zeroIdx = k.idx(0);
      auto count = scf::ForOp::create(
          b, one, k.idx(experts + 1), one, ValueRange{zeroIdx},
          [&](OpBuilder &nb, Location loc, Value j, ValueRange iter) {
            ImplicitLocOpBuilder ib(loc, nb);
            KernelBuilder kk{ib};
            Value end = kk.loadOffset(offsets, j);
            Value passed = arith::CmpIOp::create(
                ib, arith::CmpIPredicate::ule, end, r0);
            Value inc = arith::SelectOp::create(ib, passed, kk.idx(1),
                                                kk.idx(0));
            scf::YieldOp::create(ib, kk.add(iter[0], inc));
          });
      Value expert = count.getResult(0);

      Value tid = k.add(k.mul(ty, threads), tx);
      Value kLast = arith::SubIOp::create(b, kDim, one);
      Value nLast = arith::SubIOp::create(b, n, one);
      SmallVector<Value> accInit(kPerThreadM * kPerThreadN, k.f32(0.0));
      auto kLoop = scf::ForOp::create(
          b, zeroIdx, kDim, k.idx(kTileK), accInit,
          [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
            ImplicitLocOpBuilder ib(loc, nb);
            KernelBuilder kk{ib};
            // Stage the slices: each thread moves BM*BK/(T*T) elements of
            // each operand; out-of-range k (and n) read as zero. Loads use
            // clamped indices so that none is out of bounds.
            constexpr int64_t perThread = kTileM * kTileK / (kThreads * kThreads);
            for (int64_t i = 0; i < perThread; ++i) {
              Value flat = kk.add(tid, kk.idx(i * kThreads * kThreads));
              Value row = arith::DivUIOp::create(ib, flat, kk.idx(kTileK));
              Value col = arith::RemUIOp::create(ib, flat, kk.idx(kTileK));
              Value kc = kk.add(k0, col);
              Value kIn = kk.lt(kc, kDim);
              Value kSafe = kk.minIdx(kc, kLast);
              Value a = kk.toF32(memref::LoadOp::create(
                  ib, x, ValueRange{kk.add(r0, row), kSafe}));
              a = arith::SelectOp::create(ib, kIn, a, kk.f32(0.0));
              memref::StoreOp::create(ib, a, sA, ValueRange{col, row});
              Value nc = kk.add(n0, row);
              Value bIn = arith::AndIOp::create(ib, kIn, kk.lt(nc, n));
              Value wv = kk.toF32(memref::LoadOp::create(
                  ib, w, ValueRange{expert, kk.minIdx(nc, nLast), kSafe}));
              wv = arith::SelectOp::create(ib, bIn, wv, kk.f32(0.0));
              memref::StoreOp::create(ib, wv, sB, ValueRange{col, row});
            }
            gpu::BarrierOp::create(ib);
            auto inner = scf::ForOp::create(
                ib, kk.idx(0), kk.idx(kTileK), kk.idx(1), acc,
                [&](OpBuilder &nb2, Location loc2, Value c, ValueRange acc2) {
                  ImplicitLocOpBuilder jb(loc2, nb2);
                  KernelBuilder kj{jb};
                  SmallVector<Value> av, bv, next;
                  for (int64_t i = 0; i < kPerThreadM; ++i)
                    av.push_back(memref::LoadOp::create(
                        jb, sA, ValueRange{c, kj.add(ty, kj.idx(kThreads * i))}));
                  for (int64_t j = 0; j < kPerThreadN; ++j)
                    bv.push_back(memref::LoadOp::create(
                        jb, sB, ValueRange{c, kj.add(tx, kj.idx(kThreads * j))}));
                  for (int64_t i = 0; i < kPerThreadM; ++i)
                    for (int64_t j = 0; j < kPerThreadN; ++j)
                      next.push_back(math::FmaOp::create(
                          jb, av[i], bv[j], acc2[i * kPerThreadN + j]));
                  scf::YieldOp::create(jb, next);
                });
            gpu::BarrierOp::create(ib);
            scf::YieldOp::create(ib, inner.getResults());
          });

      for (int64_t i = 0; i < kPerThreadM; ++i)
        for (int64_t j = 0; j < kPerThreadN; ++j) {
          Value v = kLoop.getResult(i * kPerThreadN + j);
          if (bias) {
            Value col = k.minIdx(colOf(j), nLast);
            v = arith::AddFOp::create(
                b, v, k.toF32(memref::LoadOp::create(b, bias,
                                                     ValueRange{expert, col})));
          }
          store(i, j, k.fromF32(v, elt));
        }
      b.setInsertionPointToEnd(&body);
      gpu::ReturnOp::create(b);
    }
    return fn;
  }
};

struct GPUExpertMatmulPass
    : moe::impl::GPUExpertMatmulBase<GPUExpertMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpertMatmulToKernel>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    WalkResult result = getOperation()->walk([](ExpertMatmulOp op) {
      op->emitError() << "cannot map this grouped matmul to the GPU kernel: "
                         "its offsets must come from a moe.dispatch with "
                         "block a multiple of "
                      << kTileM << " (decompose with moe-decompose=block="
                      << kTileM << ")";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
