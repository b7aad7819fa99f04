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

#include "GPU/BlockReduce.h"
#include "GPU/GroupedGemm.h"
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

namespace {
constexpr int64_t kWarps = 8;
constexpr int64_t kBlockThreads = kWarps * 32;
/// Workgroup memory holds kWarps rows of logits: beyond this many experts
/// the unfused route and plan are used.
constexpr int64_t kMaxExperts = 1024;

/// The kernel's arguments, in order.
struct PlanArgs {
  Value input, gate, bias; // logits [T, E] or hidden [T, H]; [E, H]; [E]
  Value weights, offsets;  // [T, k] out; [E + 1] i32 out
  Value slots;             // [R] i32 out, -1 on entry
  Value counts;            // [E + 2] i32, zero on entry; [E]: the ticket,
                           // [E + 1]: set when a pick is no expert; with
                           // the dot-product kernel, [E + 2 + T]: its
                           // tickets per token
  Value ids, pos;          // [T * k] i32 scratch
  /// With a router GEMM: its f32 logits [T, E], and whether it ran (index
  /// 0 or 1); otherwise the kernel computes the logits from `gate`.
  Value logits, precomputed;

  /// The fields in kernel-argument order (null ones are not arguments).
  SmallVector<Value *> fields() {
    return {&input,  &gate, &bias, &weights, &offsets,    &slots,
            &counts, &ids,  &pos,  &logits,  &precomputed};
  }
};

/// Pieces of the routing kernels, bound to one kernel body: a token's
/// routing and claims, the tickets, the plan.
struct PlanKernel {
  ImplicitLocOpBuilder &b;
  Emitter e;
  const PlanArgs &a;
  RoutingAttr routing;
  int64_t experts, block;
  Value tid, logitsSh, startSh, lastSh;

  PlanKernel(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn, const PlanArgs &a,
             RoutingAttr routing, int64_t experts, int64_t block,
             int64_t logitRows)
      : b(b), e{b, b.getLoc()}, a(a), routing(routing), experts(experts),
        block(block) {
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    logitsSh = gpu_gemm::addSharedBuffer(
        fn, MemRefType::get({logitRows, experts}, b.getF32Type(),
                            MemRefLayoutAttrInterface(), workgroup));
    startSh = gpu_gemm::addSharedBuffer(
        fn, MemRefType::get({experts}, b.getI32Type(),
                            MemRefLayoutAttrInterface(), workgroup));
    lastSh = gpu_gemm::addSharedBuffer(
        fn, MemRefType::get({1}, b.getI32Type(), MemRefLayoutAttrInterface(),
                            workgroup));
    tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  }

  void ifThen(Value cond, function_ref<void()> body) {
    auto op = scf::IfOp::create(b, cond, false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getThenRegion().front());
    body();
  }
  void forStrided(Value from, Value to, Value step,
                  function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, from, to, step);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }
  Value isZero(Value v) {
    return e.cmpi(arith::CmpIPredicate::eq, v, e.index(0));
  }

  /// Routes token `t` from its logits in row `row` of logitsSh (one
  /// thread): top-k weights and ids stored, a position claimed in each
  /// picked expert's group.
  void routeToken(Value t, Value row) {
    int64_t k = routing.getK();
    TokenRoute route = emitTokenRoute(
        e, routing, experts,
        [&](Value x) {
          return memref::LoadOp::create(b, logitsSh, ValueRange{row, x})
              .getResult();
        },
        [&](Value x) {
          return e.toF32(memref::LoadOp::create(b, a.bias, ValueRange{x}));
        },
        static_cast<bool>(a.bias));
    Type elt = cast<MemRefType>(a.weights.getType()).getElementType();
    for (int64_t j = 0; j < k; ++j) {
      Value jIdx = e.index(j);
      memref::StoreOp::create(b, e.fromF32(route.weights[j], elt), a.weights,
                              ValueRange{t, jIdx});
      Value x = route.ids[j];
      Value slot = e.addi(e.muli(t, e.index(k)), jIdx);
      memref::StoreOp::create(b, e.toI32(x), a.ids, ValueRange{slot});
      // Scores that order no expert (NaN) pick none: flagged for the host.
      auto valid = scf::IfOp::create(
          b, e.cmpi(arith::CmpIPredicate::ult, x, e.index(experts)), true);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&valid.getThenRegion().front());
      Value position = memref::AtomicRMWOp::create(
          b, arith::AtomicRMWKind::addi, e.i32(1), a.counts, ValueRange{x});
      memref::StoreOp::create(b, position, a.pos, ValueRange{slot});
      b.setInsertionPointToStart(&valid.getElseRegion().front());
      memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::ori, e.i32(1),
                                  a.counts, ValueRange{e.index(experts + 1)});
    }
  }

  /// Whether this block is the last of `total` to take a ticket from
  /// `counter[at]` (uniform over the block): every thread's writes are
  /// published (a fence each) before thread 0 takes it.
  Value lastToArrive(Value counter, function_ref<Value()> at,
                     function_ref<Value()> total) {
    NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
    gpu::BarrierOp::create(b);
    Value zero = e.index(0);
    ifThen(isZero(tid), [&] {
      Value ticket = memref::AtomicRMWOp::create(
          b, arith::AtomicRMWKind::addi, e.i32(1), counter, ValueRange{at()});
      Value last = e.cmpi(arith::CmpIPredicate::eq, ticket,
                          arith::SubIOp::create(b, e.toI32(total()), e.i32(1)));
      memref::StoreOp::create(b,
                              arith::ExtUIOp::create(b, b.getI32Type(), last),
                              lastSh, ValueRange{zero});
    });
    gpu::BarrierOp::create(b);
    return e.cmpi(arith::CmpIPredicate::ne,
                  memref::LoadOp::create(b, lastSh, ValueRange{zero}),
                  e.i32(0));
  }

  /// The plan, by the last block: offsets from the counts, then every slot
  /// of `tokens` placed.
  void plan(Value tokens) {
    Value zeroIdx = e.index(0);
    int64_t k = routing.getK();
    NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
    ifThen(isZero(tid), [&] {
      memref::StoreOp::create(b, e.i32(0), a.offsets, ValueRange{zeroIdx});
      e.loop(e.index(experts), {e.i32(0)}, [&](Value x, ValueRange acc) {
        // An atomic read: the counts live in L2, where the atomics were.
        Value c = memref::AtomicRMWOp::create(
            b, arith::AtomicRMWKind::addi, e.i32(0), a.counts, ValueRange{x});
        if (block > 1) {
          Value bl = e.i32(block);
          c = e.muli(arith::CeilDivUIOp::create(b, c, bl), bl);
        }
        memref::StoreOp::create(b, acc[0], startSh, ValueRange{x});
        Value end = e.addi(acc[0], c);
        memref::StoreOp::create(b, end, a.offsets,
                                ValueRange{e.addi(x, e.index(1))});
        return SmallVector<Value>{end};
      });
    });
    gpu::BarrierOp::create(b);
    Value total = e.muli(tokens, e.index(k));
    forStrided(tid, total, e.index(kBlockThreads), [&](Value s) {
      Value x = e.toIndex(memref::LoadOp::create(b, a.ids, ValueRange{s}));
      ifThen(e.cmpi(arith::CmpIPredicate::ult, x, e.index(experts)), [&] {
        Value p = memref::LoadOp::create(b, a.pos, ValueRange{s});
        Value start = memref::LoadOp::create(b, startSh, ValueRange{x});
        memref::StoreOp::create(b, e.toI32(s), a.slots,
                                ValueRange{e.toIndex(e.addi(start, p))});
      });
    });
  }
};

/// Builds the routing kernel's body into `fn` (arguments as in PlanArgs,
/// nulls skipped): a warp per token, then the last block's plan.
void buildKernel(gpu::GPUFuncOp fn, const PlanArgs &a, RoutingAttr routing,
                 int64_t experts, int64_t block) {
  MLIRContext *ctx = fn.getContext();
  ImplicitLocOpBuilder b(fn.getLoc(), ctx);
  b.setInsertionPointToStart(&fn.getBody().front());
  PlanKernel p(b, fn, a, routing, experts, block, kWarps);
  Emitter &e = p.e;
  Value warp = arith::DivUIOp::create(b, p.tid, e.index(32));
  Value lane = arith::RemUIOp::create(b, p.tid, e.index(32));
  Value t = e.addi(
      e.muli(gpu::BlockIdOp::create(b, gpu::Dimension::x), e.index(kWarps)),
      warp);
  Value tokens = memref::DimOp::create(b, a.input, 0);
  Value isToken = e.cmpi(arith::CmpIPredicate::ult, t, tokens);
  Value zeroIdx = e.index(0);

  // Logits of token t into its warp's row of workgroup memory.
  auto copyLogits = [&](Value from) {
    p.forStrided(lane, e.index(experts), e.index(32), [&](Value x) {
      Value v = e.toF32(memref::LoadOp::create(b, from, ValueRange{t, x}));
      memref::StoreOp::create(b, v, p.logitsSh, ValueRange{warp, x});
    });
  };
  auto dotProducts = [&] {
    Value hidden = memref::DimOp::create(b, a.input, 1);
    p.forStrided(zeroIdx, e.index(experts), e.index(1), [&](Value x) {
      Value partial = e.loop(
          arith::CeilDivUIOp::create(
              b,
              arith::SubIOp::create(b, arith::MaxUIOp::create(b, hidden, lane),
                                    lane),
              e.index(32)),
          {e.f32(0)}, [&](Value i, ValueRange acc) {
            Value h = e.addi(lane, e.muli(i, e.index(32)));
            Value xv =
                e.toF32(memref::LoadOp::create(b, a.input, ValueRange{t, h}));
            Value wv =
                e.toF32(memref::LoadOp::create(b, a.gate, ValueRange{x, h}));
            return SmallVector<Value>{math::FmaOp::create(b, xv, wv, acc[0])};
          })[0];
      for (int64_t d = 16; d >= 1; d /= 2)
        partial = e.add(partial, gpu::ShuffleOp::create(b, partial, d, 32,
                                                        gpu::ShuffleMode::XOR)
                                     .getShuffleResult());
      p.ifThen(p.isZero(lane), [&] {
        memref::StoreOp::create(b, partial, p.logitsSh, ValueRange{warp, x});
      });
    });
  };
  p.ifThen(isToken, [&] {
    if (!a.gate)
      return copyLogits(a.input);
    if (!a.logits)
      return dotProducts();
    // The router GEMM ran for this many tokens, or it did not (uniform).
    auto ran = scf::IfOp::create(
        b, e.cmpi(arith::CmpIPredicate::ne, a.precomputed, zeroIdx), true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ran.getThenRegion().front());
    copyLogits(a.logits);
    b.setInsertionPointToStart(&ran.getElseRegion().front());
    dotProducts();
  });
  gpu::BarrierOp::create(b);

  // Lane 0 routes the token and claims its positions.
  p.ifThen(e.andi(isToken, p.isZero(lane)), [&] { p.routeToken(t, warp); });
  Value isLast = p.lastToArrive(
      a.counts, [&] { return e.index(experts); },
      [&] { return gpu::GridDimOp::create(b, gpu::Dimension::x); });
  p.ifThen(isLast, [&] { p.plan(tokens); });
  gpu::ReturnOp::create(b);
}

/// Experts whose dot products one block of the fused kernel computes (4
/// warps each).
constexpr int64_t kDotExperts = kWarps / 4;

/// Routing with the router's dot products spread over the device, in one
/// launch: block (t, c) computes token t's logits of experts [c * 2, c * 2
/// + 2), 4 warps per dot product striding the hidden dimension, into the
/// f32 logits; the last of token t's blocks to finish (a ticket per token
/// after the counts, at E + 2 + t) routes it from them and claims its
/// positions; the last
/// token routed (a ticket in the counts) makes the plan. Decode with a
/// large router: the gate matrix is read once, by many blocks, and no
/// second kernel waits for the logits.
void buildDotsKernel(gpu::GPUFuncOp fn, const PlanArgs &a, RoutingAttr routing,
                     int64_t experts, int64_t block) {
  MLIRContext *ctx = fn.getContext();
  ImplicitLocOpBuilder b(fn.getLoc(), ctx);
  b.setInsertionPointToStart(&fn.getBody().front());
  PlanKernel p(b, fn, a, routing, experts, block, 1);
  Emitter &e = p.e;
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value parts = gpu_gemm::addSharedBuffer(
      fn, MemRefType::get({kWarps}, b.getF32Type(), MemRefLayoutAttrInterface(),
                          workgroup));
  Value warp = arith::DivUIOp::create(b, p.tid, e.index(32));
  Value lane = arith::RemUIOp::create(b, p.tid, e.index(32));
  Value t = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value chunk = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value warpsPerDot = e.index(kWarps / kDotExperts);
  Value x = e.addi(e.muli(chunk, e.index(kDotExperts)),
                   arith::DivUIOp::create(b, warp, warpsPerDot));
  Value part = arith::RemUIOp::create(b, warp, warpsPerDot);
  Value isExpert = e.cmpi(arith::CmpIPredicate::ult, x, e.index(experts));
  Value hidden = memref::DimOp::create(b, a.input, 1);
  Value safeX = arith::MinUIOp::create(b, x, e.index(experts - 1));
  Value first = e.addi(e.muli(part, e.index(32)), lane);
  // Experts past E (the last chunk's) sum nothing.
  Value end = arith::SelectOp::create(b, isExpert, hidden, e.index(0));
  auto dot = scf::ForOp::create(
      b, first, end, e.index(kBlockThreads / kDotExperts), ValueRange{e.f32(0)},
      [&](OpBuilder &nb, Location l, Value h, ValueRange acc) {
        ImplicitLocOpBuilder ib(l, nb);
        Emitter ie{ib, l};
        Value xv =
            ie.toF32(memref::LoadOp::create(ib, a.input, ValueRange{t, h}));
        Value wv =
            ie.toF32(memref::LoadOp::create(ib, a.gate, ValueRange{safeX, h}));
        scf::YieldOp::create(
            ib, ValueRange{math::FmaOp::create(ib, xv, wv, acc[0])});
      });
  Value partial = dot.getResult(0);
  for (int64_t d = 16; d >= 1; d /= 2)
    partial = e.add(partial, gpu::ShuffleOp::create(b, partial, d, 32,
                                                    gpu::ShuffleMode::XOR)
                                 .getShuffleResult());
  p.ifThen(p.isZero(lane), [&] {
    memref::StoreOp::create(b, partial, parts, ValueRange{warp});
  });
  gpu::BarrierOp::create(b);
  p.ifThen(e.andi(e.andi(isExpert, p.isZero(part)), p.isZero(lane)), [&] {
    Value sum = memref::LoadOp::create(b, parts, ValueRange{warp});
    for (int64_t w = 1; w < kWarps / kDotExperts; ++w)
      sum = e.add(sum, memref::LoadOp::create(
                           b, parts, ValueRange{e.addi(warp, e.index(w))}));
    memref::StoreOp::create(b, sum, a.logits, ValueRange{t, x});
  });

  Value lastOfToken = p.lastToArrive(
      a.counts, [&] { return e.addi(t, e.index(experts + 2)); },
      [&] { return gpu::GridDimOp::create(b, gpu::Dimension::y); });
  p.ifThen(lastOfToken, [&] {
    // The other blocks' logits, read where their stores went (L2): atomic
    // reads, as the plan reads the counts.
    NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
    p.forStrided(
        p.tid, e.index(experts), e.index(kBlockThreads), [&](Value ex) {
          Value v = memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf,
                                                e.f32(0), a.logits,
                                                ValueRange{t, ex});
          memref::StoreOp::create(b, v, p.logitsSh, ValueRange{e.index(0), ex});
        });
    gpu::BarrierOp::create(b);
    p.ifThen(p.isZero(p.tid), [&] { p.routeToken(t, e.index(0)); });
    Value tokens = memref::DimOp::create(b, a.input, 0);
    Value lastToken = p.lastToArrive(
        a.counts, [&] { return e.index(experts); }, [&] { return tokens; });
    p.ifThen(lastToken, [&] { p.plan(tokens); });
  });
  gpu::ReturnOp::create(b);
}

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
                       Value tokens, RouterLogitsPlan plan) {
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
    Value tiles =
        arith::CeilDivUIOp::create(b, tokens, e.index(kLargeRowTile.m));
    Value gridY = arith::SelectOp::create(b, useGemm, tiles, zero);
    gpu_gemm::launchGemm(
        b, module, "router_matmul", g,
        [](gpu::GPUFuncOp fn, const gpu_gemm::Operands &args) {
          return gpu_gemm::buildPipelinedKernel(fn, args, /*asyncCopies=*/true,
                                                kLargeRowTile);
        },
        gridY, /*fixBlockSize=*/false);
  }
  a.logits = logits;
  a.precomputed = arith::IndexCastOp::create(
      b, b.getIndexType(), arith::ExtUIOp::create(b, b.getI32Type(), useGemm));
  return plan.gemvFrom < plan.gemmFrom ? useDots : Value();
}

/// A kernel `name` in `module`'s kernel module taking `operands`, its body
/// written by `body` with the operands' block arguments.
gpu::GPUFuncOp
createKernel(ModuleOp module, Location loc, StringRef name, ValueRange operands,
             function_ref<void(gpu::GPUFuncOp, ValueRange)> body) {
  MLIRContext *ctx = module.getContext();
  auto kernels = gpu_gemm::getOrCreateKernelModule(module);
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(kernels.getBody());
  auto fn = gpu::GPUFuncOp::create(
      mb, loc, name, FunctionType::get(ctx, TypeRange(operands), {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  SymbolTable(kernels).insert(fn);
  body(fn, fn.getBody().front().getArguments());
  return fn;
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
      useDots = emitRouterLogits(b, op, a, tokens, *plan);
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
      SmallVector<Value> operands;
      for (Value *v : dotArgs.fields())
        if (*v)
          operands.push_back(*v);
      gpu::GPUFuncOp fn =
          createKernel(module, op.getLoc(), "route_plan_dots", operands,
                       [&](gpu::GPUFuncOp f, ValueRange args) {
                         PlanArgs kernelArgs = dotArgs;
                         unsigned next = 0;
                         for (Value *v : kernelArgs.fields())
                           if (*v)
                             *v = args[next++];
                         buildDotsKernel(f, kernelArgs, op.getRouting(),
                                         experts, op.getBlock());
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

    SmallVector<Value> operands;
    for (Value *v : a.fields())
      if (*v)
        operands.push_back(*v);
    gpu::GPUFuncOp fn = createKernel(
        module, op.getLoc(), "route_plan", operands,
        [&](gpu::GPUFuncOp f, ValueRange args) {
          // The same roles, as the kernel's arguments.
          PlanArgs kernelArgs = a;
          unsigned next = 0;
          for (Value *v : kernelArgs.fields())
            if (*v)
              *v = args[next++];
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
