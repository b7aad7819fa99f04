//===- GroupedGemmDirect.cpp - 16-row GEMM tiles on register operands ----===//
//
// The K loop of the 16-row tiles (few rows per expert: decode): mma.sync on
// operands loaded from global memory straight into registers, no shared
// memory (GroupedGemmPipelined.h).
//
//===----------------------------------------------------------------------===//

#include "GPU/GroupedGemmPipelined.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::gpu_gemm;

SmallVector<Value> PipelinedBuilder::directLoop(Value lane, Value wn) {
  Value g = div(lane, 4);
  Value k8 = mul(rem(lane, 4), idx(kChunk));
  // Not structured bindings: lambdas below capture them (C++17).
  Value srcG, validG, srcG8, validG8;
  std::tie(srcG, validG) = sourceRow(g);
  std::tie(srcG8, validG8) = sourceRow(add(g, idx(8)));
  auto wType = cast<MemRefType>(ops.w.getType());
  // Static (canPipeline).
  int64_t kSize = cast<MemRefType>(ops.x.getType()).getDimSize(1);
  // Columns past N read the last column's weights (never stored).
  bool wholeColumns =
      !wType.isDynamicDim(1) && wType.getDimSize(1) % cfg.tileN() == 0;
  Value nLast = arith::SubIOp::create(b, n, idx(1));
  SmallVector<Value> bRows;
  for (int64_t ni = 0; ni < cfg.fragsN(); ++ni) {
    Value row = add(n0, add(mul(wn, idx(cfg.warpN())), add(g, idx(8 * ni))));
    bRows.push_back(wholeColumns ? row : minIdx(row, nLast));
  }
  auto chunkType = VectorType::get({kChunk}, elt);
  Value zeros = arith::ConstantOp::create(
      b, chunkType, DenseElementsAttr::get(chunkType, b.getZeroAttr(elt)));

  // One 32-deep step's operands for this thread (A rows g, g + 8, then
  // B's rows), from element `kc` of each row: 16-byte loads (zeros
  // where `keep` is false), or scalar loads of the elements inside K.
  auto load = [&](Value kc, bool vectors, Value keep) {
    SmallVector<Value> regs;
    auto chunk = [&](Value mem, SmallVector<Value> at) {
      if (vectors) {
        at.push_back(kc);
        Value v =
            vector::LoadOp::create(b, chunkType, mem, at,
                                   /*nontemporal=*/false, llvm::MaybeAlign(16));
        regs.push_back(keep ? select(keep, v, zeros) : v);
        return;
      }
      SmallVector<Value> elems;
      Value kLast = idx(kSize - 1);
      for (int64_t e = 0; e < kChunk; ++e) {
        Value k = add(kc, idx(e));
        SmallVector<Value> index = at;
        index.push_back(minIdx(k, kLast));
        Value v = memref::LoadOp::create(b, mem, index);
        elems.push_back(select(lt(k, idx(kSize)), v, zeroElt));
      }
      regs.push_back(vector::FromElementsOp::create(b, chunkType, elems));
    };
    Value x = vectors ? xRows : ops.x;
    chunk(x, {srcG});
    chunk(x, {srcG8});
    for (Value row : bRows)
      chunk(vectors ? wRows : ops.w, {expert, row});
    return regs;
  };
  // The MMAs of one step's operands.
  auto compute = [&](SmallVector<Value> &acc, ArrayRef<Value> regs) {
    for (int64_t j = 0; j < 2; ++j) {
      SmallVector<Value> a = {pairReg(regs[0], 2 * j), pairReg(regs[1], 2 * j),
                              pairReg(regs[0], 2 * j + 1),
                              pairReg(regs[1], 2 * j + 1)};
      for (int64_t ni = 0; ni < cfg.fragsN(); ++ni)
        acc[ni] = mma(
            acc[ni], a,
            {pairReg(regs[2 + ni], 2 * j), pairReg(regs[2 + ni], 2 * j + 1)});
    }
  };
  int64_t perStep = 2 + cfg.fragsN();
  int64_t stepsPerIter = cfg.tileK() / 32;

  auto vectorLoop = [&]() {
    SmallVector<Value> acc(cfg.fragsN(), accZero);
    int64_t iters = kSize / cfg.tileK();
    auto loadIter = [&](Value k0) {
      SmallVector<Value> regs;
      for (int64_t u = 0; u < stepsPerIter; ++u)
        llvm::append_range(regs, load(add(k0, add(k8, idx(32 * u))), true, {}));
      return regs;
    };
    if (iters > 0) {
      SmallVector<Value> init = acc;
      llvm::append_range(init, loadIter(idx(0)));
      auto loop = scf::ForOp::create(b, idx(0), idx(iters * cfg.tileK()),
                                     idx(cfg.tileK()), init);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      ValueRange iter = loop.getRegionIterArgs();
      // The last iteration loads its own slice again rather than branch.
      Value kNext = minIdx(add(loop.getInductionVar(), idx(cfg.tileK())),
                           idx((iters - 1) * cfg.tileK()));
      SmallVector<Value> next = loadIter(kNext);
      SmallVector<Value> loopAcc(iter.begin(), iter.begin() + cfg.fragsN());
      for (int64_t u = 0; u < stepsPerIter; ++u)
        compute(loopAcc, SmallVector<Value>(
                             iter.slice(cfg.fragsN() + u * perStep, perStep)));
      llvm::append_range(loopAcc, next);
      scf::YieldOp::create(b, loopAcc);
      b.setInsertionPointAfter(loop);
      acc.assign(loop.getResults().begin(),
                 loop.getResults().begin() + cfg.fragsN());
    }
    // Steps past the last whole iteration, then a partial step (K a
    // multiple of 8: a thread's 8 elements are all inside K or none).
    for (int64_t k0 = iters * cfg.tileK(); k0 < kSize; k0 += 32) {
      if (k0 + 32 <= kSize) {
        compute(acc, load(add(idx(k0), k8), true, {}));
        continue;
      }
      Value kc = add(idx(k0), k8);
      compute(acc,
              load(minIdx(kc, idx(kSize - kChunk)), true, lt(kc, idx(kSize))));
    }
    return acc;
  };
  auto scalarLoop = [&]() {
    SmallVector<Value> init(cfg.fragsN(), accZero);
    auto loop = scf::ForOp::create(b, idx(0), idx(kSize), idx(32), init);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> acc(loop.getRegionIterArgs());
    compute(acc, load(add(loop.getInductionVar(), k8), false, {}));
    scf::YieldOp::create(b, acc);
    return SmallVector<Value>(loop.getResults());
  };

  SmallVector<Type> accTypes(cfg.fragsN(), accZero.getType());
  auto paths = scf::IfOp::create(b, accTypes, aligned, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&paths.getThenRegion().front());
    scf::YieldOp::create(b, vectorLoop());
    b.setInsertionPointToStart(&paths.getElseRegion().front());
    scf::YieldOp::create(b, scalarLoop());
  }
  auto maskType = VectorType::get({2, 2}, b.getI1Type());
  Value rowsValid = vector::FromElementsOp::create(
      b, maskType, ValueRange{validG, validG, validG8, validG8});
  SmallVector<Value> accs;
  for (Value acc : paths.getResults())
    accs.push_back(select(rowsValid, acc, accZero));
  return accs;
}
