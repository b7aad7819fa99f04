//===- GPUExpertMatmul.cpp - moe.expert_matmul -> grouped GEMM kernel -----===//
//
// One launch for all experts: the dispatch pads every expert's row group to
// 16 rows, a block finds its row tile of one expert's group from the
// offsets and computes it through workgroup memory (GPU/GroupedGemm*.cpp),
// on tensor cores for f16/bf16. The grid's rows stop at a bound of the
// tiles computed from the token count. The pipelined kernel comes in up to
// three row tiles (16, 64 and 128 rows, Utils/GemmTiles.h): all are
// launched, those the cost model does not pick for this call's token count
// with an empty grid, which the runtime skips.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemm.h"
#include "moe/Dialect/MoE.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUEXPERTMATMUL
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
using namespace mlir::moe::gpu_gemm;

/// Whether `offsets` are `[0, T]` of a one-expert matmul over dense rows
/// (moe-decompose's shared experts): tiles then stop at row T.
bool denseRows(ExpertMatmulOp op) {
  auto rows = op.getOffsets().getDefiningOp<tensor::FromElementsOp>();
  return rows && rows.getElements().size() == 2 &&
         matchPattern(rows.getElements()[0], m_Zero()) && !op.isGathered() &&
         !op.isCombined();
}

/// Whether `offsets` start every row group at a multiple of kGemmRowAlign.
bool paddedToTile(Value offsets) {
  if (auto dispatch = offsets.getDefiningOp<DispatchOp>())
    return dispatch.getOffsets() == offsets &&
           dispatch.getBlock() % kGemmRowAlign == 0;
  auto plan = offsets.getDefiningOp<RoutePlanOp>();
  return plan && plan.getOffsets() == offsets &&
         plan.getBlock() % kGemmRowAlign == 0;
}

/// What the grid needs of a grouped matmul's plan: the token copies its rows
/// hold (T * k, a host value), its expert count and its row block; dense
/// rows: the rows, one expert, no padding.
struct PlanSize {
  Value copies;
  int64_t experts = 1, block = 1;
  bool dense = false;
  /// The copies when the shapes fix them.
  std::optional<int64_t> staticCopies;
};

PlanSize planSize(ImplicitLocOpBuilder &b, Value offsets, Value rows,
                  bool dense) {
  Value perCopy; // [T, k]: the dispatch's ids, the route plan's weights
  PlanSize size;
  if (auto dispatch = offsets.getDefiningOp<DispatchOp>()) {
    perCopy = dispatch.getIds();
    size.experts = dispatch.getNumExperts();
    size.block = dispatch.getBlock();
  } else if (auto plan = offsets.getDefiningOp<RoutePlanOp>()) {
    perCopy = plan.getWeights();
    size.experts = plan.getNumExperts();
    size.block = plan.getBlock();
  }
  // Not dense: paddedToTile found the dispatch or the plan.
  if (dense) {
    size = {rows, 1, 1, true};
    size.staticCopies = getConstantIntValue(rows);
    return size;
  }
  auto perCopyType = cast<RankedTensorType>(perCopy.getType());
  if (perCopyType.hasStaticShape())
    size.staticCopies = perCopyType.getDimSize(0) * perCopyType.getDimSize(1);
  // The IR is built one op per statement: the order of a call's arguments
  // differs between compilers.
  Value tokens = tensor::DimOp::create(b, perCopy, 0);
  Value perToken = tensor::DimOp::create(b, perCopy, 1);
  size.copies = arith::MulIOp::create(b, tokens, perToken);
  return size;
}

/// The row tiles of `tileRows` rows that can hold the plan's copies, as a
/// host value. Each of the at most a = min(E, C) experts with rows pads
/// them to a multiple of the block, and has ceil(padded / tileRows) tiles:
/// at most (C + a * (max(block, tileRows) - 1)) / tileRows in all. At
/// decode the grid covers the active experts' tiles rather than every
/// expert's padding. Dense rows: ceil(T / tileRows).
Value rowTiles(ImplicitLocOpBuilder &b, const PlanSize &plan,
               int64_t tileRows) {
  KernelBuilder k{b};
  if (plan.dense)
    return arith::CeilDivUIOp::create(b, plan.copies, k.idx(tileRows));
  Value active = k.minIdx(plan.copies, k.idx(plan.experts));
  Value padding =
      k.mul(active, k.idx(std::max(plan.block, tileRows) - 1));
  return arith::DivUIOp::create(b, k.add(plan.copies, padding),
                                k.idx(tileRows));
}

/// `out` set to a combined GEMM's initial value before its launch: a fill
/// (zeros) or a copy, which moe-gpu-copy-engine gives the copy engine.
void initializeCombined(ImplicitLocOpBuilder &b, Value init, Value out) {
  if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
    linalg::FillOp::create(b, fill.value(), out);
    return;
  }
  auto type = cast<RankedTensorType>(init.getType());
  Value src = bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType()), init,
      /*readOnly=*/true);
  memref::CopyOp::create(b, src, out);
}

/// The rounding of a combined 16-bit output after a GEMM kernel that does
/// not round its rows itself (GemmTile::roundsRows): converted = out
/// (+ addend), one thread per element, launched where `runs` holds (an
/// empty grid otherwise).
void launchRounding(ImplicitLocOpBuilder &b, ModuleOp module,
                    const Operands &ops, Value runs) {
  constexpr int64_t kThreads = 256;
  SmallVector<Value> operands = {ops.out};
  if (ops.addend)
    operands.push_back(ops.addend);
  operands.push_back(ops.converted);
  auto buildBody = [&](gpu::GPUFuncOp fn, ValueRange args) {
    Block &entry = fn.getBody().front();
    ImplicitLocOpBuilder kb(fn.getLoc(), fn.getContext());
    kb.setInsertionPointToStart(&entry);
    KernelBuilder k{kb};
    Value out = args[0];
    Value addend = ops.addend ? args[1] : Value();
    Value converted = args.back();
    Value n = memref::DimOp::create(kb, out, 1);
    Value total = k.mul(memref::DimOp::create(kb, out, 0), n);
    Value i = k.add(
        k.mul(gpu::BlockIdOp::create(kb, gpu::Dimension::x), k.idx(kThreads)),
        gpu::ThreadIdOp::create(kb, gpu::Dimension::x));
    auto inside = scf::IfOp::create(kb, k.lt(i, total), false);
    kb.setInsertionPointToStart(&inside.getThenRegion().front());
    Value t = arith::DivUIOp::create(kb, i, n);
    Value c = arith::RemUIOp::create(kb, i, n);
    Value v = memref::LoadOp::create(kb, out, ValueRange{t, c});
    if (addend)
      v = arith::AddFOp::create(
          kb, v, k.toF32(memref::LoadOp::create(kb, addend, ValueRange{t, c})));
    Type elt = cast<MemRefType>(converted.getType()).getElementType();
    memref::StoreOp::create(kb, k.fromF32(v, elt), converted, ValueRange{t, c});
    kb.setInsertionPointToEnd(&entry);
    gpu::ReturnOp::create(kb);
  };
  gpu::GPUFuncOp fn =
      createKernel(module, b.getLoc(), "round_combined", operands, buildBody);
  KernelBuilder k{b};
  Value total = k.mul(memref::DimOp::create(b, ops.out, 0),
                      memref::DimOp::create(b, ops.out, 1));
  Value blocks = arith::CeilDivUIOp::create(b, total, k.idx(kThreads));
  blocks = arith::SelectOp::create(b, runs, blocks, k.idx(0));
  Value one = k.idx(1);
  gpu::LaunchFuncOp::create(b, fn, gpu::KernelDim3{blocks, one, one},
                            gpu::KernelDim3{k.idx(kThreads), one, one},
                            /*dynamicSharedMemorySize=*/nullptr, operands);
}

/// `t` converted elementwise to float type `to` (a linalg.generic, which
/// becomes a flat kernel). A fill converts its value instead.
Value convert(ImplicitLocOpBuilder &b, Value t, Type to) {
  auto type = cast<RankedTensorType>(t.getType());
  Type from = type.getElementType();
  auto cast = [&](OpBuilder &nb, Location loc, Value v) -> Value {
    if (to.getIntOrFloatBitWidth() > from.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(nb, loc, to, v);
    return arith::TruncFOp::create(nb, loc, to, v);
  };
  SmallVector<Value> dynSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynSizes.push_back(tensor::DimOp::create(b, t, d));
  Value empty = tensor::EmptyOp::create(b, type.getShape(), to, dynSizes);
  if (auto fill = t.getDefiningOp<linalg::FillOp>())
    return linalg::FillOp::create(b, cast(b, b.getLoc(), fill.value()), empty)
        .getResult(0);
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(type.getRank()));
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, TypeRange{empty.getType()}, ValueRange{t}, ValueRange{empty},
             maps, iterators,
             [&](OpBuilder &nb, Location loc, ValueRange args) {
               linalg::YieldOp::create(nb, loc, cast(nb, loc, args[0]));
             })
      .getResult(0);
}

struct ExpertMatmulToKernel : OpRewritePattern<ExpertMatmulOp> {
  ExpertMatmulToKernel(MLIRContext *ctx, bool tensorCores, bool allowTF32,
                       bool asyncCopies, StringRef chip)
      : OpRewritePattern(ctx), tensorCores(tensorCores), allowTF32(allowTF32),
        asyncCopies(asyncCopies), chip(chip.str()) {}

  LogicalResult matchAndRewrite(ExpertMatmulOp op,
                                PatternRewriter &rewriter) const override {
    bool dense = denseRows(op);
    if (!dense && !paddedToTile(op.getOffsets()))
      return rewriter.notifyMatchFailure(op, "row groups not padded to tiles");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    KernelBuilder k{b};
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    auto resType = cast<RankedTensorType>(op.getResult().getType());
    Type elt = resType.getElementType();

    auto buffer = [&](Value t) { return toKernelBuffer(b, b.getLoc(), t); };
    Operands ops;
    ops.x = buffer(op.getInput());
    ops.w = buffer(op.getWeight());
    // Dense rows need no offsets buffer (the host would fill it): their end
    // goes to the kernel as a scalar.
    ops.offsets = dense ? Value() : buffer(op.getOffsets());
    if (dense)
      ops.denseEnd = arith::IndexCastOp::create(
          b, b.getIndexType(),
          op.getOffsets().getDefiningOp<tensor::FromElementsOp>()
              .getElements()[1]);
    ops.bias = buffer(op.getBias());
    ops.scales = buffer(op.getScales());
    ops.zeroPoints = buffer(op.getZeroPoints());
    ops.bits = op.getWeightBits();
    ops.block = op.getQuantBlock();
    ops.epilogue = op.getEpilogueAttr();
    ops.slots = buffer(op.getGatherSlots());
    ops.gatherK = op.getGatherK().value_or(0);
    ops.combineSlots = buffer(op.getCombineSlots());
    ops.combineWeights = buffer(op.getCombineWeights());
    if (op.isCombined())
      ops.combineK = cast<RankedTensorType>(op.getCombineWeights().getType())
                         .getDimSize(1);
    ops.experts = wType.getDimSize(0);
    Value rows = tensor::DimOp::create(
        b, op.isGathered() ? op.getGatherSlots() : op.getInput(), 0);
    Value n = tensor::DimOp::create(b, op.getWeight(), 1);
    SmallVector<Value> dynSizes;
    if (resType.isDynamicDim(0))
      dynSizes.push_back(op.isCombined() ? Value(tensor::DimOp::create(
                                               b, op.getCombineWeights(), 0))
                                         : rows);
    if (resType.isDynamicDim(1))
      dynSizes.push_back(ops.pairedEpilogue()
                             ? Value(arith::DivUIOp::create(b, n, k.idx(2)))
                             : n);
    if (dense)
      ops.rowLimit = rows;
    bool mma =
        tensorCores &&
        (elt.isF16() || elt.isBF16() || (elt.isF32() && allowTF32)) &&
        wType.getElementType() == elt &&
        cast<RankedTensorType>(op.getInput().getType()).getElementType() == elt;

    // A combined 16-bit output accumulates in f32 and is rounded once:
    // atomic additions in f16/bf16 would round k times. The tensor-core
    // kernels round it themselves, each token's row once all its additions
    // are in, adding a 16-bit initial value (a residual) then; otherwise a
    // conversion follows the launch.
    bool widen = op.isCombined() && elt.getIntOrFloatBitWidth() == 16;
    bool convertInKernel =
        widen && mma && canPipeline(ops) && !ops.pairedEpilogue();
    Type accType = widen ? b.getF32Type() : elt;
    ops.out = memref::AllocOp::create(
        b, MemRefType::get(resType.getShape(), accType), dynSizes);
    if (convertInKernel) {
      ops.converted = memref::AllocOp::create(
          b, MemRefType::get(resType.getShape(), elt), dynSizes);
      SmallVector<Value> tokens;
      if (resType.isDynamicDim(0))
        tokens.push_back(dynSizes.front());
      ops.arrivals = memref::AllocOp::create(
          b, MemRefType::get({resType.getDimSize(0)}, b.getI32Type()), tokens);
      linalg::FillOp::create(
          b, arith::ConstantOp::create(b, b.getI32IntegerAttr(0)).getResult(),
          ops.arrivals);
      if (op.getCombineInit().getDefiningOp<linalg::FillOp>()) {
        initializeCombined(b, convert(b, op.getCombineInit(), accType),
                           ops.out);
      } else {
        linalg::FillOp::create(
            b, arith::ConstantOp::create(b, b.getF32FloatAttr(0)).getResult(),
            ops.out);
        ops.addend = buffer(op.getCombineInit());
      }
    } else if (op.isCombined()) {
      initializeCombined(b,
                         widen ? convert(b, op.getCombineInit(), accType)
                               : op.getCombineInit(),
                         ops.out);
    }
    PlanSize plan = planSize(b, op.getOffsets(), rows, dense);
    ModuleOp module = op->getParentOfType<ModuleOp>();
    if (!mma || !canPipeline(ops)) {
      // The tensor-core kernel's block size is fixed: LLVM knows the thread
      // ids' range and ptxas the thread count (.maxntid). Not for the
      // others: given 256 threads ptxas fits the SIMT kernel into 48
      // registers (5 blocks per SM) and spills, unbounded it takes 53; given
      // 128 it caps the 64-row pipelined kernel at 168 (3 blocks per SM),
      // which spills where K leaves a partial slice, unbounded 186.
      launchGemm(b, module, "expert_matmul", ops,
                 mma ? buildMMAKernel : buildSIMTKernel,
                 rowTiles(b, plan, kTileM), /*fixBlockSize=*/mma);
    } else {
      // The tile by token count: the cost model's crossovers for this
      // GEMM's shape on the target, compared with the call's copies. A
      // static token count decides at compile time.
      int64_t kDim = cast<MemRefType>(ops.x.getType()).getDimSize(1);
      std::vector<TileChoice> tiles =
          rowTilePlan(plan.experts, wType.getDimSize(1), kDim,
                      elt.getIntOrFloatBitWidth() / 8, gpuModelFor(chip));
      // Whether a tile that does not round rows itself runs (null: none).
      Value roundAfter;
      auto emit = [&](const GemmTile &tile, Value useIt) {
        Value gridY = rowTiles(b, plan, tile.m);
        if (useIt)
          gridY = arith::SelectOp::create(b, useIt, gridY, k.idx(0));
        Operands tileOps = ops;
        if (convertInKernel && !tile.roundsRows()) {
          tileOps.converted = tileOps.arrivals = tileOps.addend = nullptr;
          Value runs = useIt ? useIt : arith::ConstantIntOp::create(b, 1, 1);
          roundAfter =
              roundAfter ? arith::OrIOp::create(b, roundAfter, runs) : runs;
        }
        gpu::GPUFuncOp fn = launchGemm(
            b, module, "expert_matmul", tileOps,
            [&](gpu::GPUFuncOp f, const Operands &args) {
              return buildPipelinedKernel(f, args, asyncCopies, tile);
            },
            gridY, /*fixBlockSize=*/false);
        fn->setAttr("moe.row_tile", b.getI64IntegerAttr(tile.m));
        fn->setAttr("moe.col_tile", b.getI64IntegerAttr(tile.n));
        if (tile.wgmma)
          fn->setAttr("moe.wgmma", b.getUnitAttr());
      };
      if (plan.staticCopies || tiles.size() == 1) {
        double copies = static_cast<double>(plan.staticCopies.value_or(0));
        emit(choiceFor(tiles, copies).tile, nullptr);
      } else {
        // Choice i runs for copies in [from_i, from_i+1).
        for (size_t i = 0; i < tiles.size(); ++i) {
          Value useIt;
          if (i > 0)
            useIt = arith::CmpIOp::create(b, arith::CmpIPredicate::uge,
                                          plan.copies, k.idx(tiles[i].from));
          if (i + 1 < tiles.size()) {
            Value below = k.lt(plan.copies, k.idx(tiles[i + 1].from));
            useIt = useIt ? arith::AndIOp::create(b, useIt, below) : below;
          }
          emit(tiles[i].tile, useIt);
        }
      }
      if (roundAfter)
        launchRounding(b, module, ops, roundAfter);
    }
    Value result;
    if (convertInKernel) {
      result = bufferization::ToTensorOp::create(b, resType, ops.converted,
                                                 /*restrict=*/true,
                                                 /*writable=*/true);
    } else {
      result = bufferization::ToTensorOp::create(b, resType.clone(accType),
                                                 ops.out, /*restrict=*/true,
                                                 /*writable=*/true);
      if (widen)
        result = convert(b, result, elt);
    }
    rewriter.replaceOp(op, result);
    return success();
  }

  bool tensorCores, allowTF32, asyncCopies;
  std::string chip;
};

struct GPUExpertMatmulPass
    : moe::impl::GPUExpertMatmulBase<GPUExpertMatmulPass> {
  using Base::Base;

  void runOnOperation() override {
    // The CUDA pipeline's first use of sm=: a misspelled architecture
    // fails here, before the NVPTX backend and ptxas each complain.
    if (!isKnownChip(chip)) {
      getOperation()->emitError()
          << "unknown GPU architecture '" << chip
          << "': sm= takes a compute capability of 70 or later, such as 80, "
             "86, 89, 90 or 90a";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpertMatmulToKernel>(&getContext(), tensorCores, allowTF32,
                                       asyncCopies, chip);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    WalkResult result = getOperation()->walk([](ExpertMatmulOp op) {
      op->emitError() << "cannot map this grouped matmul to the GPU kernel: "
                         "its offsets must come from a moe.dispatch with "
                         "block a multiple of "
                      << kGemmRowAlign
                      << " (decompose with moe-decompose=block="
                      << kGemmRowAlign << "), or be [0, rows] of one expert";
      return WalkResult::interrupt();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
