//===- OutlineLoopNests.cpp - one function per top-level loop nest --------===//
//
// LLVM's translation and code generation cost more than linearly in the
// size of a function; a model function made of one small function per loop
// nest keeps them linear in the size of the model.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/CPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CPUOUTLINELOOPNESTS
#include "passes/CPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// Values a function re-creates instead of receiving: scalar and vector
/// constants, which are part of the code. Weights (`memref.get_global`)
/// are arguments, so that the nests of identical layers are identical.
bool isRematerializable(Value value) {
  Operation *def = value.getDefiningOp();
  return def && def->getNumOperands() == 0 &&
         def->hasTrait<OpTrait::ConstantLike>() &&
         !isa<MemRefType>(value.getType());
}

/// A hash of `fn`'s type and body that ignores names and locations: equal
/// for the functions outlined from the same loop nest in different layers.
llvm::hash_code structuralHash(func::FuncOp fn) {
  llvm::hash_code hash = hash_value(fn.getFunctionType());
  fn.getBody().walk([&](Operation *op) {
    hash = llvm::hash_combine(
        hash, OperationEquivalence::computeHash(
                  op, OperationEquivalence::ignoreHashValue,
                  OperationEquivalence::ignoreHashValue,
                  OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

/// Moves `nest` into a new function placed after `previous` (which then
/// becomes that function, keeping the functions in program order).
func::CallOp outline(Operation *nest, func::FuncOp parent,
                     Operation *&previous, SymbolTable &symbols) {
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(nest->getRegions(), captured);
  captured.insert(nest->getOperands().begin(), nest->getOperands().end());

  SmallVector<Value> arguments;
  for (Value value : captured)
    if (!isRematerializable(value))
      arguments.push_back(value);

  OpBuilder builder(parent);
  builder.setInsertionPointAfter(previous);
  auto fn = func::FuncOp::create(
      builder, nest->getLoc(), (parent.getSymName() + "_loops").str(),
      builder.getFunctionType(ValueRange(arguments).getTypes(),
                              nest->getResultTypes()));
  fn.setPrivate();
  // Inlined back, the nests would make the model function as large as
  // before; internal, they stay out of the library's exported symbols.
  fn->setAttr("passthrough",
              builder.getArrayAttr({builder.getStringAttr("noinline")}));
  fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(builder.getContext(),
                                                     LLVM::Linkage::Internal));
  symbols.insert(fn);
  previous = fn;
  Block *entry = fn.addEntryBlock();

  builder.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (auto [value, argument] : llvm::zip(arguments, entry->getArguments()))
    mapping.map(value, argument);
  for (Value value : captured)
    if (isRematerializable(value))
      mapping.map(value,
                  builder.clone(*value.getDefiningOp())->getResult(0));
  auto ret = func::ReturnOp::create(builder, nest->getLoc(),
                                    nest->getResults());

  builder.setInsertionPoint(nest);
  auto call = func::CallOp::create(builder, nest->getLoc(), fn, arguments);
  // The call's results replace the nest's everywhere but in the return
  // that now yields them.
  nest->replaceUsesWithIf(call.getResults(), [&](OpOperand &use) {
    return use.getOwner() != ret;
  });
  nest->moveBefore(ret);
  // Rewriting operands from inside the nest (rather than the captured
  // values' use lists, which span the whole model) keeps this linear.
  nest->walk([&](Operation *op) {
    for (OpOperand &operand : op->getOpOperands())
      if (Value replacement = mapping.lookupOrNull(operand.get()))
        operand.set(replacement);
  });
  return call;
}

/// Calls of functions with the same body call one of them; the others are
/// erased. A model of N identical layers then compiles each loop nest once.
void deduplicate(ArrayRef<func::CallOp> calls, SymbolTable &symbols) {
  DenseMap<llvm::hash_code, SmallVector<func::FuncOp, 1>> seen;
  for (func::CallOp call : calls) {
    auto fn = symbols.lookup<func::FuncOp>(call.getCallee());
    SmallVector<func::FuncOp, 1> &candidates = seen[structuralHash(fn)];
    func::FuncOp same;
    for (func::FuncOp candidate : candidates)
      if (candidate.getFunctionType() == fn.getFunctionType() &&
          OperationEquivalence::isRegionEquivalentTo(
              &candidate.getBody(), &fn.getBody(),
              OperationEquivalence::IgnoreLocations)) {
        same = candidate;
        break;
      }
    if (!same) {
      candidates.push_back(fn);
      continue;
    }
    call.setCallee(same.getSymName());
    symbols.erase(fn);
  }
}

struct CPUOutlineLoopNestsPass
    : moe::impl::CPUOutlineLoopNestsBase<CPUOutlineLoopNestsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto fn : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (fn.isExternal())
        continue;
      SmallVector<Operation *> nests;
      for (Block &block : fn.getBody())
        for (Operation &op : block)
          if (op.getNumRegions() > 0)
            nests.push_back(&op);
      SmallVector<func::CallOp> calls;
      Operation *previous = fn;
      for (Operation *nest : nests)
        calls.push_back(outline(nest, fn, previous, symbols));
      deduplicate(calls, symbols);
    }
  }
};
} // namespace
