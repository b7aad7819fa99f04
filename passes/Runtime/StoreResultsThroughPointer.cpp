//===- StoreResultsThroughPointer.cpp - results via the C wrapper's pointer -===//
//
// A model with thousands of outputs returns an LLVM struct with thousands of
// fields; instruction selection handles each insertvalue building it at the
// cost of the whole struct. Storing each result where the C interface wants
// it anyway keeps code generation linear in the number of outputs.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/Runtime.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_STORERESULTSTHROUGHPOINTER
#include "passes/Runtime/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// The wrapper's call of `fn` whose whole result it stores through its
/// first argument, with that store; null if the wrapper does anything else
/// with the result.
std::pair<LLVM::CallOp, LLVM::StoreOp> findForwardingCall(LLVM::LLVMFuncOp wrapper,
                                                          LLVM::LLVMFuncOp fn) {
  if (wrapper.isExternal() || wrapper.getNumArguments() == 0)
    return {};
  Value resultPtr = wrapper.getArgument(0);
  LLVM::CallOp call;
  LLVM::StoreOp store;
  wrapper.walk([&](LLVM::CallOp op) {
    if (op.getCallee() != fn.getName() || op.getNumResults() != 1 ||
        !op.getResult().hasOneUse())
      return;
    auto user = dyn_cast<LLVM::StoreOp>(*op.getResult().getUsers().begin());
    if (user && user.getAddr() == resultPtr) {
      call = op;
      store = user;
    }
  });
  return {call, store};
}

/// Replaces `ret` (returning a value of `type`) by stores to `out`: the
/// chain of insertvalues that built the value, in program order, so that
/// later insertions overwrite earlier ones as they did in the value. With
/// `early`, each field is stored where its value is defined rather than at
/// the return: otherwise every result stays live across the whole function
/// (thousands of values for thousands of outputs), which register
/// allocation pays for quadratically.
void storeReturn(LLVM::ReturnOp ret, Value out, Type type, bool early) {
  OpBuilder b(ret);
  Location loc = ret.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  SmallVector<LLVM::InsertValueOp> chain;
  Value base = ret.getArg();
  while (auto insert = base.getDefiningOp<LLVM::InsertValueOp>()) {
    chain.push_back(insert);
    base = insert.getContainer();
  }
  if (!base.getDefiningOp<LLVM::PoisonOp>() &&
      !base.getDefiningOp<LLVM::UndefOp>()) {
    // Stores of the whole value go first; fields stored early could then
    // be overwritten, so everything is stored at the return.
    early = false;
    LLVM::StoreOp::create(b, loc, base, out);
  }
  // Early stores need each field written once, by a top-level insertion
  // (as the function conversion packs results): otherwise only program
  // order at the return keeps the last write last.
  llvm::SmallDenseSet<int64_t> positions;
  for (LLVM::InsertValueOp insert : chain)
    early &= insert.getPosition().size() == 1 &&
             positions.insert(insert.getPosition()[0]).second;

  for (LLVM::InsertValueOp insert : llvm::reverse(chain)) {
    Value value = insert.getValue();
    if (!early)
      b.setInsertionPoint(ret);
    else if (Operation *def = value.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointToStart(cast<BlockArgument>(value).getOwner());
    SmallVector<LLVM::GEPArg> indices{0};
    for (int64_t p : insert.getPosition())
      indices.push_back(static_cast<int32_t>(p));
    Value field = LLVM::GEPOp::create(b, loc, ptrType, type, out, indices);
    LLVM::StoreOp::create(b, loc, value, field);
  }
  b.setInsertionPoint(ret);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  ret.erase();
  for (LLVM::InsertValueOp insert : chain) {
    if (!insert->use_empty())
      break;
    insert.erase();
  }
}

void returnThroughPointer(LLVM::LLVMFuncOp fn) {
  MLIRContext *ctx = fn.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  LLVM::LLVMFunctionType oldType = fn.getFunctionType();
  Type resultType = oldType.getReturnType();
  SmallVector<Type> params{ptrType};
  llvm::append_range(params, oldType.getParams());
  fn.setFunctionType(LLVM::LLVMFunctionType::get(
      LLVM::LLVMVoidType::get(ctx), params, oldType.isVarArg()));
  if (ArrayAttr argAttrs = fn.getArgAttrsAttr()) {
    SmallVector<Attribute> shifted{DictionaryAttr::get(ctx)};
    llvm::append_range(shifted, argAttrs);
    fn.setArgAttrsAttr(ArrayAttr::get(ctx, shifted));
  }
  fn.removeResAttrsAttr();
  Value out = fn.getBody().front().insertArgument(0u, ptrType, fn.getLoc());

  SmallVector<LLVM::ReturnOp> returns;
  fn.walk([&](LLVM::ReturnOp ret) { returns.push_back(ret); });
  for (LLVM::ReturnOp ret : returns)
    storeReturn(ret, out, resultType, /*early=*/returns.size() == 1);
}

struct StoreResultsThroughPointerPass
    : moe::impl::StoreResultsThroughPointerBase<StoreResultsThroughPointerPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    for (auto wrapper : llvm::to_vector(module.getOps<LLVM::LLVMFuncOp>())) {
      StringRef name = wrapper.getName();
      if (!name.consume_front("_mlir_ciface_"))
        continue;
      auto fn = symbols.lookupSymbolIn<LLVM::LLVMFuncOp>(
          module, StringAttr::get(&getContext(), name));
      if (!fn || fn.isExternal() ||
          !isa<LLVM::LLVMStructType>(fn.getFunctionType().getReturnType()))
        continue;
      auto [call, store] = findForwardingCall(wrapper, fn);
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(fn, module);
      if (!call || !uses || !llvm::hasSingleElement(*uses))
        continue;
      returnThroughPointer(fn);
      OpBuilder b(call);
      SmallVector<Value> arguments{store.getAddr()};
      llvm::append_range(arguments, call.getArgOperands());
      LLVM::CallOp::create(b, call.getLoc(), fn, arguments);
      store.erase();
      call.erase();
    }
  }
};
} // namespace
