//===- GPURoutePlan.cpp - moe.route_plan -> one GPU kernel ----------------===//
//
// Routing and its plan in one launch. A warp routes a token: its lanes
// compute the router logits (lane-strided dot products reduced by shuffles,
// when the router matmul is fused) into workgroup memory, then lane 0 runs
// the token's scoring and top-k and claims a position in each picked
// expert's group with an atomic increment of the expert's count. The last
// block to finish (an atomic ticket; fences order the other blocks' writes
// before it) turns the counts into padded offsets and places every slot at
// its group's start plus its position. So the plan needs no second launch
// and no host loop; the order inside a group is the atomics' (which
// moe.route_plan leaves unspecified). Counts and padding slots are filled
// before the launch (on the copy engine, by moe-gpu-copy-engine). A token
// whose scores order no expert (NaN) raises a flag that the host turns into
// a run-time error after the launch. For large routers the logits come, by
// token count, from a dot-product variant of the kernel (blocks per token
// and pair of experts, the token's last block routing it, the last token's
// making the plan) or from a tensor-core GEMM launched before it.
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemm.h"
#include "GPU/RoutePlanKernels.h"
#include "Utils/Emitter.h"
#include "Utils/GemmTiles.h"
#include "Utils/Routing.h"
#include "moe/Dialect/MoE.h"
#include "moe/Passes/GPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
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
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_GPUROUTEPLAN
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::route_plan;

namespace {
/// Where `op`'s logits come from by token count (options as in the pass:
/// -1 asks the cost model, 0 never, N from N tokens), or none when the
/// routing kernel always computes them.
std::optional<RouterLogitsPlan> logitsPlan(RoutePlanOp op, int64_t gemvOption,
                                           int64_t gemmOption, StringRef chip) {
  if (!op.getGateWeight())
    return std::nullopt;
  auto in = cast<RankedTensorType>(op.getInput().getType());
  auto gate = cast<RankedTensorType>(op.getGateWeight().getType());
  Type elt = in.getElementType();
  int64_t hidden = in.getDimSize(1);
  if (ShapedType::isDynamic(hidden) || !gate.hasStaticShape())
    return std::nullopt;
  // The GEMM is the pipelined tensor-core kernel.
  bool gemmFits = fitsPipelinedGemm(elt, gate.getElementType(), hidden);
  RouterLogitsPlan model = routerLogitsPlan(
      static_cast<double>(gate.getDimSize(0)), static_cast<double>(hidden),
      elt.getIntOrFloatBitWidth() / 8, gemmFits, gpuModelFor(chip));
  auto pick = [](int64_t option, int64_t modeled) {
    return option < 0 ? modeled : option == 0 ? kNeverTokens : option;
  };
  RouterLogitsPlan plan{pick(gemvOption, model.gemvFrom),
                        gemmFits ? pick(gemmOption, model.gemmFrom)
                                 : kNeverTokens};
  if (plan.gemvFrom == kNeverTokens && plan.gemmFrom == kNeverTokens)
    return std::nullopt;
  return plan;
}

/// The router logits [T, E] in f32 for the two kernels that do not
/// compute them in the routing warps: the dot-product routing kernel (from
/// `plan.gemvFrom` tokens) and the grouped GEMM over one expert (the gate
/// as [1, E, H], from `plan.gemmFrom`), launched here with an empty grid
/// when not chosen. Sets the plan's logits, whether the GEMM computed them
/// (`precomputed`), and returns whether the dot-product kernel runs
/// (false: never, when it is not planned).
Value emitRouterLogits(ImplicitLocOpBuilder &b, RoutePlanOp op, PlanArgs &a,
                       Value tokens, RouterLogitsPlan plan,
                       const GemmTile &tile) {
  Emitter e{b, b.getLoc()};
  ModuleOp module = op->getParentOfType<ModuleOp>();
  auto gate = cast<RankedTensorType>(op.getGateWeight().getType());
  int64_t experts = gate.getDimSize(0);
  Value logits = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, experts}, b.getF32Type()),
      ValueRange{tokens});
  Value zero = e.index(0);
  Value never = arith::ConstantIntOp::create(b, 0, 1);
  Value useGemm =
      plan.gemmFrom == kNeverTokens
          ? never
          : e.cmpi(arith::CmpIPredicate::uge, tokens, e.index(plan.gemmFrom));
  Value useDots = never;
  if (plan.gemvFrom < plan.gemmFrom) {
    Value from =
        e.cmpi(arith::CmpIPredicate::uge, tokens, e.index(plan.gemvFrom));
    useDots = arith::AndIOp::create(
        b, from,
        arith::XOrIOp::create(b, useGemm,
                              arith::ConstantIntOp::create(b, 1, 1)));
  }
  if (plan.gemmFrom != kNeverTokens) {
    auto gate3Type = RankedTensorType::get({1, experts, gate.getDimSize(1)},
                                           gate.getElementType());
    Value gate3 = tensor::ExpandShapeOp::create(
        b, gate3Type, op.getGateWeight(),
        SmallVector<ReassociationIndices>{{0, 1}, {2}});
    gpu_gemm::Operands g;
    g.x = a.input;
    g.w = gpu_gemm::toKernelBuffer(b, b.getLoc(), gate3);
    g.experts = 1;
    g.rowLimit = tokens;
    g.denseEnd = tokens;
    g.out = logits;
    Value tiles = arith::CeilDivUIOp::create(b, tokens, e.index(tile.m));
    Value gridY = arith::SelectOp::create(b, useGemm, tiles, zero);
    gpu_gemm::launchGemm(
        b, module, "router_matmul", g,
        [&](gpu::GPUFuncOp fn, const gpu_gemm::Operands &args) {
          if (tile.wgmma)
            fn->setAttr("moe.wgmma", UnitAttr::get(fn.getContext()));
          return gpu_gemm::buildPipelinedKernel(fn, args, /*asyncCopies=*/true,
                                                tile);
        },
        gridY, /*fixBlockSize=*/false);
  }
  a.logits = logits;
  a.precomputed = arith::IndexCastOp::create(
      b, b.getIndexType(), arith::ExtUIOp::create(b, b.getI32Type(), useGemm));
  return plan.gemvFrom < plan.gemmFrom ? useDots : Value();
}

/// A routing kernel `name` taking `args`' non-null fields (PlanArgs
/// order), its body built by `build` from the same roles as the kernel's
/// arguments; returns it and the launch's operands.
std::pair<gpu::GPUFuncOp, SmallVector<Value>> createPlanKernel(
    ModuleOp module, Location loc, StringRef name, PlanArgs args,
    llvm::function_ref<void(gpu::GPUFuncOp, const PlanArgs &)> build) {
  SmallVector<Value> operands;
  for (Value *v : args.fields())
    if (*v)
      operands.push_back(*v);
  gpu::GPUFuncOp fn = gpu_gemm::createKernel(
      module, loc, name, operands, [&](gpu::GPUFuncOp f, ValueRange params) {
        PlanArgs kernelArgs = args;
        unsigned next = 0;
        for (Value *v : kernelArgs.fields())
          if (*v)
            *v = params[next++];
        build(f, kernelArgs);
      });
  return {fn, operands};
}

struct RoutePlanToKernel : OpRewritePattern<RoutePlanOp> {
  RoutePlanToKernel(MLIRContext *ctx, int64_t gemvOption, int64_t gemmOption,
                    StringRef chip)
      : OpRewritePattern(ctx), gemvOption(gemvOption), gemmOption(gemmOption),
        chip(chip.str()) {}
  int64_t gemvOption, gemmOption;
  std::string chip;

  LogicalResult matchAndRewrite(RoutePlanOp op,
                                PatternRewriter &rewriter) const override {
    int64_t experts = op.getNumExperts();
    if (experts > kMaxExperts)
      return rewriter.notifyMatchFailure(op, "too many experts for one row "
                                             "of workgroup memory per warp");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Emitter e{b, b.getLoc()};
    MLIRContext *ctx = op.getContext();
    int64_t k = op.getRouting().getK();
    auto buffer = [&](Value t) {
      return gpu_gemm::toKernelBuffer(b, b.getLoc(), t);
    };
    auto alloc = [&](Type type, ValueRange dyn) -> Value {
      auto t = cast<RankedTensorType>(type);
      return memref::AllocOp::create(
          b, MemRefType::get(t.getShape(), t.getElementType()), dyn);
    };
    PlanArgs a;
    a.input = buffer(op.getInput());
    a.gate = buffer(op.getGateWeight());
    a.bias = buffer(op.getBias());
    Value tokens = tensor::DimOp::create(b, op.getInput(), 0);
    Value useDots;
    if (std::optional<RouterLogitsPlan> plan =
            logitsPlan(op, gemvOption, gemmOption, chip))
      useDots = emitRouterLogits(b, op, a, tokens, *plan,
                                 routerGemmTile(gpuModelFor(chip)));
    auto wType = cast<RankedTensorType>(op.getWeights().getType());
    auto sType = cast<RankedTensorType>(op.getSlots().getType());
    a.weights =
        alloc(wType, wType.isDynamicDim(0) ? ValueRange{tokens} : ValueRange{});
    a.offsets = alloc(op.getOffsets().getType(), {});
    Value rows = emitPlanRowCount(e, tokens, k, experts, op.getBlock());
    a.slots =
        alloc(sType, sType.isDynamicDim(0) ? ValueRange{rows} : ValueRange{});
    Type i32 = b.getI32Type();
    // With the dot-product kernel, the counts go on with its per-token
    // tickets: [E + 2 + t].
    a.counts =
        useDots
            ? memref::AllocOp::create(
                  b, MemRefType::get({ShapedType::kDynamic}, i32),
                  ValueRange{e.addi(tokens, e.index(experts + 2))})
            : memref::AllocOp::create(b, MemRefType::get({experts + 2}, i32));
    auto scratch = MemRefType::get({ShapedType::kDynamic}, i32);
    Value slotCount = e.muli(tokens, e.index(k));
    a.ids = memref::AllocOp::create(b, scratch, ValueRange{slotCount});
    a.pos = memref::AllocOp::create(b, scratch, ValueRange{slotCount});

    // Fills of whole buffers: moe-gpu-copy-engine makes them memsets.
    linalg::FillOp::create(b, e.i32(0), a.counts);
    linalg::FillOp::create(b, e.i32(-1), a.slots);

    ModuleOp module = op->getParentOfType<ModuleOp>();
    Value one = e.index(1), zero = e.index(0);
    if (useDots) {
      PlanArgs dotArgs = a;
      dotArgs.precomputed = nullptr;
      auto [fn, operands] = createPlanKernel(
          module, op.getLoc(), "route_plan_dots", dotArgs,
          [&](gpu::GPUFuncOp f, const PlanArgs &kernelArgs) {
            buildDotsKernel(f, kernelArgs, op.getRouting(), experts,
                            op.getBlock());
          });
      fn.setKnownBlockSizeAttr(
          DenseI32ArrayAttr::get(ctx, {kBlockThreads, 1, 1}));
      Value grid = arith::SelectOp::create(b, useDots, tokens, zero);
      gpu::LaunchFuncOp::create(
          b, fn,
          gpu::KernelDim3{grid, e.index(llvm::divideCeil(experts, kDotExperts)),
                          one},
          gpu::KernelDim3{e.index(kBlockThreads), one, one},
          /*dynamicSharedMemorySize=*/nullptr, operands);
    }

    auto [fn, operands] = createPlanKernel(
        module, op.getLoc(), "route_plan", a,
        [&](gpu::GPUFuncOp f, const PlanArgs &kernelArgs) {
          buildKernel(f, kernelArgs, op.getRouting(), experts, op.getBlock());
        });

    // One block still runs without tokens: it writes the zero offsets.
    Value grid = arith::MaxUIOp::create(
        b, arith::CeilDivUIOp::create(b, tokens, e.index(kWarps)), one);
    if (useDots)
      grid = arith::SelectOp::create(b, useDots, zero, grid);
    gpu::LaunchFuncOp::create(b, fn, gpu::KernelDim3{grid, one, one},
                              gpu::KernelDim3{e.index(kBlockThreads), one, one},
                              /*dynamicSharedMemorySize=*/nullptr, operands);
    // The host reads the flag after the (synchronous) launch: a run-time
    // error, as the unfused plan's expert id check reports.
    auto flag =
        memref::LoadOp::create(b, a.counts, ValueRange{e.index(experts + 1)});
    flag->setAttr(moe::kCheckFlagAttr, b.getUnitAttr());
    cf::AssertOp::create(
        b, e.cmpi(arith::CmpIPredicate::eq, flag, e.i32(0)),
        "moe.route_plan: no expert could be chosen for a token (NaN router "
        "scores)");
    auto toTensor = [&](Value buf, Type type) -> Value {
      return bufferization::ToTensorOp::create(b, type, buf, /*restrict=*/true,
                                               /*writable=*/true);
    };
    rewriter.replaceOp(op, {toTensor(a.weights, wType),
                            toTensor(a.offsets, op.getOffsets().getType()),
                            toTensor(a.slots, sType)});
    return success();
  }
};

struct GPURoutePlanPass : moe::impl::GPURoutePlanBase<GPURoutePlanPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RoutePlanToKernel>(&getContext(), routerGemvFrom,
                                    routerGemmFrom, chip);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
