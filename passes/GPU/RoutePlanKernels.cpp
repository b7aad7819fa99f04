//===- RoutePlanKernels.cpp - bodies of the routing kernels ---------------===//

#include "GPU/RoutePlanKernels.h"

#include "GPU/BlockReduce.h"
#include "GPU/GroupedGemm.h"
#include "Utils/Emitter.h"
#include "Utils/Routing.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::route_plan;

namespace {
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
} // namespace

void mlir::moe::route_plan::buildKernel(gpu::GPUFuncOp fn, const PlanArgs &a,
                                        RoutingAttr routing, int64_t experts,
                                        int64_t block) {
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
      partial = emitWarpSum(b, b.getLoc(), partial);
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

void mlir::moe::route_plan::buildDotsKernel(gpu::GPUFuncOp fn,
                                            const PlanArgs &a,
                                            RoutingAttr routing,
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
  Value partial = emitWarpSum(b, b.getLoc(), dot.getResult(0));
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
