//===- Routing.cpp - one token's routing as scalar code -------------------===//

#include "Routing.h"

#include "RowTopK.h"

#include <limits>

using namespace mlir;
using namespace mlir::moe;

/// (score desc, index asc) order: is expert (v, i) ranked before (w, j)?
static Value rankedBefore(Emitter &e, Value v, Value i, Value w, Value j) {
  Value greater = e.cmpf(arith::CmpFPredicate::OGT, v, w);
  Value tie = e.andi(e.cmpf(arith::CmpFPredicate::OEQ, v, w),
                     e.cmpi(arith::CmpIPredicate::slt, i, j));
  return e.ori(greater, tie);
}

Value mlir::moe::emitPlanRowCount(Emitter &e, Value tokens, int64_t k,
                                  int64_t experts, int64_t block) {
  Value rows =
      e.addi(e.muli(tokens, e.index(k)), e.index(experts * (block - 1)));
  if (block == 1)
    return rows;
  Value whole = arith::DivUIOp::create(e.b, e.loc, rows, e.index(block));
  return e.muli(whole, e.index(block));
}

/// The largest logit of a token (softmax subtracts it).
static Value emitMaxLogit(Emitter &e, int64_t experts,
                          function_ref<Value(Value)> logit) {
  Value negInf = e.f32(-std::numeric_limits<double>::infinity());
  return e.loop(e.index(experts), {negInf}, [&](Value x, ValueRange acc) {
    return SmallVector<Value>{
        arith::MaximumFOp::create(e.b, e.loc, acc[0], logit(x))};
  })[0];
}

static Value emitShiftedExp(Emitter &e, Value logit, Value maxLogit) {
  return math::ExpOp::create(
      e.b, e.loc, arith::SubFOp::create(e.b, e.loc, logit, maxLogit));
}

Value mlir::moe::emitScoreRow(Emitter &e, RoutingAttr routing, int64_t experts,
                              function_ref<Value(Value)> logit, Value row) {
  Value zero = e.index(0), numExperts = e.index(experts);
  auto store = [&](Value v, Value into, Value x) -> Value {
    return tensor::InsertOp::create(e.b, e.loc, v, into, ValueRange{zero, x});
  };
  if (routing.getScoring() == Scoring::sigmoid)
    return e.loop(numExperts, {row}, [&](Value x, ValueRange acc) {
      return SmallVector<Value>{store(e.sigmoid(logit(x)), acc[0], x)};
    })[0];
  Value maxLogit = emitMaxLogit(e, experts, logit);
  ValueRange exps =
      e.loop(numExperts, {row, e.f32(0)}, [&](Value x, ValueRange acc) {
        Value ex = emitShiftedExp(e, logit(x), maxLogit);
        return SmallVector<Value>{store(ex, acc[0], x), e.add(acc[1], ex)};
      });
  Value sumExp = exps[1];
  return e.loop(numExperts, {exps[0]}, [&](Value x, ValueRange acc) {
    Value ex = e.extract(acc[0], {zero, x});
    return SmallVector<Value>{store(e.div(ex, sumExp), acc[0], x)};
  })[0];
}

/// A selection score with NaN ranked above every number, as PyTorch's topk
/// ranks it: a token whose scores are NaN (a NaN or infinite input) picks
/// valid experts with NaN weights, so its own output is NaN and the other
/// tokens' are unaffected.
static Value nanFirst(Emitter &e, Value s) {
  Value isNaN = e.cmpf(arith::CmpFPredicate::UNO, s, s);
  return e.select(isNaN, e.f32(std::numeric_limits<double>::infinity()), s);
}

/// The picks' weights renormalized (divided by their sum) and scaled as
/// `routing` says.
static TokenRoute finishRoute(Emitter &e, RoutingAttr routing,
                              ArrayRef<Value> weights, ArrayRef<Value> ids) {
  Value total = e.f32(0);
  for (Value w : weights)
    total = e.add(total, w);
  double scale = routing.getScale().convertToDouble();
  TokenRoute route;
  for (auto [given, id] : llvm::zip(weights, ids)) {
    Value w = given;
    if (routing.getRenormalize())
      w = e.div(w, total);
    if (scale != 1.0)
      w = e.mul(w, e.f32(scale));
    route.weights.push_back(w);
    route.ids.push_back(id);
  }
  return route;
}

/// Phi-MoE's sparse mixer: the k largest logits in order; pick j's weight
/// is the softmax at it over the experts not picked before it whose
/// relative gap to its logit m, (m - l) / max(|l|, m), is at most `gap`.
static TokenRoute emitSparseMixerRoute(Emitter &e, RoutingAttr routing,
                                       int64_t experts,
                                       function_ref<Value(Value)> logit) {
  int64_t k = routing.getK();
  SmallVector<RowPick> picks =
      emitRowTopK(e.b, e.loc, e.index(experts), k,
                  /*largest=*/true, e.b.getF32Type(),
                  [&](Value x) { return nanFirst(e, logit(x)); });
  Value gap = e.f32(routing.getGap().convertToDouble());
  Value zero = e.f32(0);
  SmallVector<Value> weights;
  for (int64_t j = 0; j < k; ++j) {
    Value m = picks[j].score;
    Value sum =
        e.loop(e.index(experts), {zero}, [&](Value x, ValueRange acc) {
          Value l = logit(x);
          Value factor = arith::MaximumFOp::create(
              e.b, e.loc, math::AbsFOp::create(e.b, e.loc, l), m);
          Value rel = e.div(arith::SubFOp::create(e.b, e.loc, m, l), factor);
          // (A NaN gap, 0 / 0, keeps the expert, as the comparison does in
          // PyTorch.)
          Value masked = e.cmpf(arith::CmpFPredicate::OGT, rel, gap);
          for (int64_t i = 0; i < j; ++i)
            masked = e.ori(masked, e.cmpi(arith::CmpIPredicate::eq, x,
                                          picks[i].index));
          Value ex = math::ExpOp::create(
              e.b, e.loc, arith::SubFOp::create(e.b, e.loc, l, m));
          return SmallVector<Value>{
              e.add(acc[0], e.select(masked, zero, ex))};
        })[0];
    weights.push_back(e.div(e.f32(1), sum));
  }
  SmallVector<Value> ids;
  for (const RowPick &pick : picks)
    ids.push_back(pick.index);
  return finishRoute(e, routing, weights, ids);
}

TokenRoute mlir::moe::emitTokenRoute(Emitter &e, RoutingAttr routing,
                                     int64_t experts,
                                     function_ref<Value(Value)> logit,
                                     function_ref<Value(Value)> biasAt,
                                     bool hasBias,
                                     function_ref<Value(Value)> scoreAt) {
  if (routing.getScoring() == Scoring::sparsemixer)
    return emitSparseMixerRoute(e, routing, experts, logit);
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t k = routing.getK();
  int64_t groups = routing.getGroups(), groupSize = experts / groups;
  Value negInf = e.f32(-std::numeric_limits<double>::infinity());
  Value numExperts = e.index(experts);

  // Scores: softmax (max-subtracted) or sigmoid, unless given.
  Value maxLogit, sumExp;
  if (!scoreAt && routing.getScoring() == Scoring::softmax) {
    maxLogit = emitMaxLogit(e, experts, logit);
    sumExp = e.loop(numExperts, {e.f32(0)}, [&](Value x, ValueRange acc) {
      return SmallVector<Value>{
          e.add(acc[0], emitShiftedExp(e, logit(x), maxLogit))};
    })[0];
  }
  auto score = [&](Value x) -> Value {
    if (scoreAt)
      return scoreAt(x);
    if (routing.getScoring() == Scoring::sigmoid)
      return e.sigmoid(logit(x));
    return e.div(emitShiftedExp(e, logit(x), maxLogit), sumExp);
  };
  auto selection = [&](Value x) -> Value {
    Value s = score(x);
    return nanFirst(e, hasBias ? e.add(s, biasAt(x)) : s);
  };

  // Group-limited routing: a group's score, then which groups are kept.
  SmallVector<Value> groupKept; // per group: kept? (empty without groups)
  if (groups > 1) {
    SmallVector<Value> groupScores;
    for (int64_t g = 0; g < groups; ++g) {
      // Largest two selection scores of the group (top2_sum), or largest.
      ValueRange best = e.loop(
          e.index(groupSize), {negInf, negInf}, [&](Value i, ValueRange acc) {
            Value s = selection(e.addi(e.index(g * groupSize), i));
            Value above1 = e.cmpf(arith::CmpFPredicate::OGT, s, acc[0]);
            Value above2 = e.cmpf(arith::CmpFPredicate::OGT, s, acc[1]);
            Value first = e.select(above1, s, acc[0]);
            Value second =
                e.select(above1, acc[0], e.select(above2, s, acc[1]));
            return SmallVector<Value>{first, second};
          });
      groupScores.push_back(routing.getGroupScore() == GroupScore::top2_sum
                                ? e.add(best[0], best[1])
                                : best[0]);
    }
    // Group g is kept when fewer than topk_groups groups rank before it.
    for (int64_t g = 0; g < groups; ++g) {
      Value before = e.index(0);
      for (int64_t h = 0; h < groups; ++h) {
        if (h == g)
          continue;
        Value r = rankedBefore(e, groupScores[h], e.index(h), groupScores[g],
                               e.index(g));
        before = e.select(r, e.addi(before, e.index(1)), before);
      }
      groupKept.push_back(e.cmpi(arith::CmpIPredicate::slt, before,
                                 e.index(routing.getTopkGroups())));
    }
  }
  auto eligible = [&](Value x) -> Value {
    if (groupKept.empty())
      return arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
    // A select chain, not a table: the same code runs inside GPU kernels.
    Value g = arith::DivUIOp::create(b, loc, x, e.index(groupSize));
    Value result = groupKept[0];
    for (int64_t h = 1; h < groups; ++h)
      result = e.select(e.cmpi(arith::CmpIPredicate::eq, g, e.index(h)),
                        groupKept[h], result);
    return result;
  };

  // Top-k over the selection scores; masked experts score masked_score
  // (-inf by default, which ranks them after every unmasked pick).
  Value masked = e.f32(routing.getMaskedScore().convertToDouble());
  SmallVector<Value> ids, weights;
  for (RowPick pick :
       emitRowTopK(b, loc, numExperts, k,
                   /*largest=*/true, b.getF32Type(), [&](Value x) {
                     return e.select(eligible(x), selection(x), masked);
                   })) {
    ids.push_back(pick.index);
    weights.push_back(score(pick.index));
  }
  return finishRoute(e, routing, weights, ids);
}
