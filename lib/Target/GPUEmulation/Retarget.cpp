//===- Retarget.cpp - NVPTX kernels rewritten for the CUDA emulator -------===//
//
// Input: the LLVM module the NVPTX backend would receive (after the NVPTX
// optimization pipeline, libdevice linked). Output: the same code for the
// host, under this contract with runtime/cuda-emulator:
//
// - `llvm.nvvm.X.Y` becomes a call to `__moe_emu_X_Y`: with the same
//   signature when every type is i32, i64, float, double or a pointer;
//   otherwise as `void __moe_emu_X_Y(void *result, const void *arguments)`
//   with the arguments stored as a struct of the intrinsic's parameter types.
// - Shared variables (address space 3) live in a per-block arena returned by
//   `__moe_emu_shared_base()`, each kernel's from offset 0 (when no variable
//   is shared between functions). Each is placed at an offset that is a
//   multiple of its declared alignment but never of twice that, so an access
//   assuming more alignment than PTX guarantees is misaligned here as it may
//   be on a GPU. Dynamic shared memory is `__moe_emu_dynamic_shared_base()`.
// - Every load, store, atomic and memory intrinsic outside the thread's own
//   stack first calls `__moe_emu_access(address, bytes, flags)`: flags bit 0
//   write, bit 1 atomic, bits 4-11 log2 of the alignment the IR promises,
//   bits 12-15 the address space.
// - Kernel K is called through `__moe_emu_entry_K(void **arguments)`, the
//   argument array of cuLaunchKernel.
//
// Address spaces are otherwise kept: x86 treats 1, 3, 4 and 5 as flat memory
// and casts between them as no-ops.
//
//===----------------------------------------------------------------------===//

#include "moe/Target/GPUEmulation.h"

#include "moe/Runtime/GPUImage.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Analysis/ValueTracking.h"
#include "llvm/IR/CallingConv.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/IR/ReplaceConstant.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace {
constexpr unsigned kSharedSpace = 3;
constexpr StringLiteral kNVVMPrefix = "llvm.nvvm.";

class Retargeter {
public:
  Retargeter(Module &m, std::string &error)
      : m(m), ctx(m.getContext()), device(m.getDataLayout()), error(error) {}

  bool run(const DataLayout &host, const Triple &triple) {
    collectKernels();
    if (!placeSharedVariables() || !replaceIntrinsics() || !replaceInlineAsm())
      return false;
    instrumentMemoryAccesses();
    for (Function *k : kernels)
      if (!addEntry(*k))
        return false;
    exportGlobalsTable();
    for (Function &f : m) {
      f.removeFnAttr("target-cpu");
      f.removeFnAttr("target-features");
    }
    if (NamedMDNode *annotations = m.getNamedMetadata("nvvm.annotations"))
      m.eraseNamedMetadata(annotations);
    m.setTargetTriple(triple);
    m.setDataLayout(host);
    std::string problems;
    raw_string_ostream os(problems);
    if (verifyModule(m, &os)) {
      error = "the retargeted kernels do not verify: " + problems;
      return false;
    }
    return true;
  }

private:
  void collectKernels() {
    for (Function &f : m)
      if (!f.isDeclaration() && f.getCallingConv() == CallingConv::PTX_Kernel)
        kernels.push_back(&f);
  }

  Type *ptrTy(unsigned space = 0) { return PointerType::get(ctx, space); }

  /// The arena's base in `f`, computed once at its entry.
  Value *arenaBase(Function &f, StringRef which) {
    Value *&base = bases[{&f, which}];
    if (!base) {
      IRBuilder<> b(&*f.getEntryBlock().getFirstInsertionPt());
      FunctionCallee fn =
          m.getOrInsertFunction(which, FunctionType::get(ptrTy(kSharedSpace),
                                                         /*isVarArg=*/false));
      base = b.CreateCall(fn);
    }
    return base;
  }

  bool placeSharedVariables() {
    SmallVector<GlobalVariable *> shared;
    for (GlobalVariable &g : m.globals())
      if (g.getAddressSpace() == kSharedSpace)
        shared.push_back(&g);
    SmallVector<Constant *> constants(shared.begin(), shared.end());
    convertUsersOfConstantsToInstructions(constants);
    // Where every variable is used by one kernel only, each kernel's
    // variables start at offset 0, as in a GPU's shared window: the arena
    // is the largest kernel's, and shared addresses stay below 2^18 (wgmma
    // descriptors keep 18 bits of them). Otherwise every variable gets
    // its own place.
    DenseMap<GlobalVariable *, Function *> owner;
    bool perKernel = true;
    for (GlobalVariable *g : shared) {
      Function *only = nullptr;
      for (User *user : g->users()) {
        auto *inst = dyn_cast<Instruction>(user);
        Function *f = inst ? inst->getFunction() : nullptr;
        if (!f || f->getCallingConv() != CallingConv::PTX_Kernel ||
            (only && only != f))
          perKernel = false;
        only = f;
      }
      owner[g] = only;
    }
    uint64_t size = 0, dynamicAlign = 16;
    DenseMap<Function *, uint64_t> ends; // per kernel, or all at nullptr
    DenseMap<GlobalVariable *, int64_t> placement; // -1: dynamic
    for (GlobalVariable *g : shared) {
      Align align =
          g->getAlign().value_or(device.getPrefTypeAlign(g->getValueType()));
      if (g->isDeclaration()) {
        dynamicAlign = std::max<uint64_t>(dynamicAlign, align.value());
        placement[g] = -1;
        continue;
      }
      uint64_t &offset = ends[perKernel ? owner[g] : nullptr];
      offset = alignTo(offset, align);
      if (align.value() < 4096 && offset % (2 * align.value()) == 0)
        offset += align.value();
      placement[g] = offset;
      offset += device.getTypeAllocSize(g->getValueType());
      size = std::max(size, offset);
    }
    for (GlobalVariable *g : shared) {
      for (Use &use : make_early_inc_range(g->uses())) {
        auto *user = dyn_cast<Instruction>(use.getUser());
        if (!user) {
          error = ("shared variable '" + g->getName() +
                   "' is used outside of functions")
                      .str();
          return false;
        }
        Function &f = *user->getFunction();
        int64_t at = placement[g];
        Value *address;
        if (at < 0) {
          address = arenaBase(f, "__moe_emu_dynamic_shared_base");
        } else {
          Value *&cached = variables[{&f, g}];
          if (!cached) {
            Value *base = arenaBase(f, "__moe_emu_shared_base");
            IRBuilder<> b(cast<Instruction>(base)->getNextNode());
            cached = b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), base, at,
                                                  g->getName());
          }
          address = cached;
        }
        use.set(address);
      }
      g->eraseFromParent();
    }
    auto *i64 = Type::getInt64Ty(ctx);
    exportConstant(MOE_EMU_SHARED_BYTES, ConstantInt::get(i64, size));
    exportConstant(MOE_EMU_DYNAMIC_SHARED_ALIGN,
                   ConstantInt::get(i64, dynamicAlign));
    return true;
  }

  void exportConstant(StringRef name, Constant *value) {
    new GlobalVariable(m, value->getType(), /*isConstant=*/true,
                       GlobalValue::ExternalLinkage, value, name);
  }

  static bool passesDirectly(Type *t) {
    return t->isVoidTy() || t->isIntegerTy(32) || t->isIntegerTy(64) ||
           t->isFloatTy() || t->isDoubleTy() || t->isPointerTy();
  }

  bool replaceIntrinsics() {
    SmallVector<Function *> intrinsics;
    for (Function &f : m)
      if (f.isDeclaration() && f.getName().starts_with(kNVVMPrefix))
        intrinsics.push_back(&f);
    for (Function *f : intrinsics) {
      std::string name =
          "__moe_emu_" + f->getName().drop_front(kNVVMPrefix.size()).str();
      std::replace(name.begin(), name.end(), '.', '_');
      FunctionType *type = f->getFunctionType();
      bool direct = passesDirectly(type->getReturnType()) &&
                    all_of(type->params(), passesDirectly);
      FunctionCallee callee =
          direct ? m.getOrInsertFunction(name, type)
                 : m.getOrInsertFunction(
                       name, FunctionType::get(Type::getVoidTy(ctx),
                                               {ptrTy(), ptrTy()}, false));
      for (User *user : make_early_inc_range(f->users())) {
        auto *call = dyn_cast<CallInst>(user);
        if (!call || call->getCalledFunction() != f) {
          error = ("'" + f->getName() + "' is used other than by a call").str();
          return false;
        }
        IRBuilder<> b(call);
        SmallVector<Value *> args(call->args());
        Value *replacement;
        if (direct) {
          replacement = b.CreateCall(callee, args);
        } else {
          replacement = packedCall(b, *call, callee, args);
        }
        if (!call->getType()->isVoidTy())
          call->replaceAllUsesWith(replacement);
        call->eraseFromParent();
      }
      f->eraseFromParent();
    }
    return true;
  }

  /// libdevice writes a few instructions as inline PTX, and the NVVM
  /// dialect wgmma: each known one becomes a call to the runtime function
  /// of the equivalent intrinsic (one result, one operand) or to a packed
  /// runtime function.
  bool replaceInlineAsm() {
    static const std::pair<StringRef, StringRef> unary[] = {
        {"rcp.approx.ftz.f32", "__moe_emu_rcp_approx_ftz_f"},
        {"rcp.approx.ftz.f64", "__moe_emu_rcp_approx_ftz_d"},
        {"ex2.approx.ftz.f32", "__moe_emu_ex2_approx_ftz_f"},
        {"lg2.approx.ftz.f32", "__moe_emu_lg2_approx_ftz_f"},
        {"rsqrt.approx.ftz.f32", "__moe_emu_rsqrt_approx_ftz_f"},
        {"tanh.approx.f32", "__moe_emu_tanh_approx_f"},
    };
    SmallVector<CallInst *> calls;
    for (Function &f : m)
      for (Instruction &inst : instructions(f))
        if (auto *call = dyn_cast<CallInst>(&inst))
          if (call->isInlineAsm())
            calls.push_back(call);
    for (CallInst *call : calls) {
      auto *asmOp = cast<InlineAsm>(call->getCalledOperand());
      std::string text = StringRef(asmOp->getAsmString()).trim().str();
      // Compare templates with whitespace removed.
      std::string squeezed;
      for (char c : text)
        if (!isspace(static_cast<unsigned char>(c)))
          squeezed += c;
      IRBuilder<> b(call);
      SmallVector<Value *> args(call->args());
      Value *replacement = nullptr;
      if (Value *wgmma = replaceWgmma(b, *call, squeezed, args)) {
        replacement = wgmma;
      } else if (squeezed ==
                 "{mad.lo.cc.u32$0,$2,$3,$4;madc.hi.u32$1,$2,$3,0;}") {
        FunctionCallee callee = m.getOrInsertFunction(
            "__moe_emu_asm_mad_wide_u32",
            FunctionType::get(Type::getVoidTy(ctx), {ptrTy(), ptrTy()}, false));
        replacement = packedCall(b, *call, callee, args);
      } else {
        StringRef mnemonic =
            StringRef(text).take_until([](char c) { return c == ' '; });
        const auto *entry =
            find_if(unary, [&](const auto &k) { return k.first == mnemonic; });
        if (entry != std::end(unary) &&
            squeezed == (mnemonic + "$0,$1;").str() && args.size() == 1)
          replacement = b.CreateCall(
              m.getOrInsertFunction(entry->second, call->getFunctionType()),
              args);
      }
      if (!replacement) {
        error = ("the CUDA emulator cannot run the inline PTX '" + text +
                 "' in '" + call->getFunction()->getName() + "'")
                    .str();
        return false;
      }
      call->replaceAllUsesWith(replacement);
      call->eraseFromParent();
    }
    return true;
  }

  /// The NVVM dialect writes wgmma.mma_async (f32 accumulators, f16 or
  /// bf16 operands from shared-memory descriptors) as inline PTX: a call to
  /// `__moe_emu_wgmma_f32(&D, &{N, type, descA, descB, scale-d, scale-a,
  /// scale-b, tnsp-a, tnsp-b, C...})`, or null for other text.
  Value *replaceWgmma(IRBuilder<> &b, CallInst &call, StringRef squeezed,
                      ArrayRef<Value *> args) {
    StringRef rest = squeezed;
    if (!rest.consume_front("{.reg.predp;setp.ne.b32p,$"))
      return nullptr;
    constexpr StringLiteral kOpcode = "wgmma.mma_async.sync.aligned.m64n";
    size_t at = rest.find(kOpcode);
    if (at == StringRef::npos)
      return nullptr;
    StringRef shape = rest.drop_front(at + kOpcode.size());
    unsigned n = 0;
    if (shape.consumeInteger(10, n) || n == 0 || n % 8 || n > 256)
      return nullptr;
    unsigned regs = n / 2;
    int type = shape.starts_with("k16.f32.f16.f16")    ? 0
               : shape.starts_with("k16.f32.bf16.bf16") ? 1
                                                         : -1;
    if (type < 0 || args.size() != regs + 7)
      return nullptr;
    const char *typeName = type ? "bf16" : "f16";
    std::string expected;
    raw_string_ostream os(expected);
    os << "{.reg.predp;setp.ne.b32p,$" << n + 2 << ",0;"
       << "wgmma.mma_async.sync.aligned.m64n" << n << "k16.f32." << typeName
       << "." << typeName << "{";
    for (unsigned i = 0; i < regs; ++i)
      os << (i ? ",$" : "$") << i;
    os << "},$" << n << ",$" << n + 1 << ",p";
    for (unsigned i = n + 3; i < n + 7; ++i)
      os << ",$" << i;
    os << ";}";
    if (squeezed != expected)
      return nullptr;
    auto *i32 = Type::getInt32Ty(ctx);
    SmallVector<Value *> packed = {ConstantInt::get(i32, n),
                                   ConstantInt::get(i32, type)};
    packed.append(args.begin() + regs, args.end());
    packed.append(args.begin(), args.begin() + regs);
    FunctionCallee callee = m.getOrInsertFunction(
        "__moe_emu_wgmma_f32",
        FunctionType::get(Type::getVoidTy(ctx), {ptrTy(), ptrTy()}, false));
    return packedCall(b, call, callee, packed);
  }

  /// Calls `callee(&result, &arguments)` with both in stack slots at the
  /// function's entry.
  Value *packedCall(IRBuilder<> &b, CallInst &call, FunctionCallee callee,
                    ArrayRef<Value *> args) {
    Function &f = *call.getFunction();
    IRBuilder<> entry(&*f.getEntryBlock().getFirstInsertionPt());
    SmallVector<Type *> types;
    for (Value *v : args)
      types.push_back(v->getType());
    StructType *packed = StructType::get(ctx, types);
    Value *argSlot = entry.CreateAlloca(packed);
    Type *resultType = call.getType();
    Value *resultSlot = resultType->isVoidTy()
                            ? static_cast<Value *>(ConstantPointerNull::get(
                                  cast<PointerType>(ptrTy())))
                            : entry.CreateAlloca(resultType);
    for (auto [i, v] : enumerate(args))
      b.CreateStore(v, b.CreateStructGEP(packed, argSlot, i));
    b.CreateCall(callee, {resultSlot, argSlot});
    if (resultType->isVoidTy())
      return nullptr;
    return b.CreateLoad(resultType, resultSlot);
  }

  void instrumentMemoryAccesses() {
    auto *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx);
    FunctionCallee access = m.getOrInsertFunction(
        "__moe_emu_access",
        FunctionType::get(Type::getVoidTy(ctx), {ptrTy(), i64, i32}, false));
    const DataLayout &dl = device;
    for (Function &f : m) {
      if (f.isDeclaration())
        continue;
      SmallVector<std::tuple<Instruction *, Value *, Value *, Align, unsigned>>
          sites;
      // kind: 0 read, 1 write, 3 atomic read-modify-write.
      auto site = [&](Instruction *inst, Value *ptr, Type *accessed,
                      Align align, unsigned kind) {
        sites.push_back({inst, ptr,
                         ConstantInt::get(i64, dl.getTypeStoreSize(accessed)),
                         align, kind});
      };
      for (Instruction &inst : instructions(f)) {
        if (auto *load = dyn_cast<LoadInst>(&inst))
          site(load, load->getPointerOperand(), load->getType(),
               load->getAlign(), 0);
        else if (auto *store = dyn_cast<StoreInst>(&inst))
          site(store, store->getPointerOperand(),
               store->getValueOperand()->getType(), store->getAlign(), 1);
        else if (auto *rmw = dyn_cast<AtomicRMWInst>(&inst))
          site(rmw, rmw->getPointerOperand(), rmw->getValOperand()->getType(),
               rmw->getAlign(), 3);
        else if (auto *cas = dyn_cast<AtomicCmpXchgInst>(&inst))
          site(cas, cas->getPointerOperand(),
               cas->getNewValOperand()->getType(), cas->getAlign(), 3);
        else if (auto *mem = dyn_cast<MemIntrinsic>(&inst)) {
          sites.push_back({mem, mem->getRawDest(), mem->getLength(),
                           mem->getDestAlign().valueOrOne(), 1});
          if (auto *transfer = dyn_cast<MemTransferInst>(mem))
            sites.push_back({mem, transfer->getRawSource(), mem->getLength(),
                             transfer->getSourceAlign().valueOrOne(), 0});
        }
      }
      for (auto [inst, ptr, bytes, align, kind] : sites) {
        if (isa<AllocaInst>(getUnderlyingObject(ptr, 0)))
          continue;
        IRBuilder<> b(inst);
        unsigned space = cast<PointerType>(ptr->getType())->getAddressSpace();
        unsigned flags =
            kind | (Log2(align) << 4) | (std::min(space, 15u) << 12);
        Value *flat = space ? b.CreateAddrSpaceCast(ptr, ptrTy()) : ptr;
        b.CreateCall(access, {flat, b.CreateZExtOrTrunc(bytes, i64),
                              ConstantInt::get(i32, flags)});
      }
    }
  }

  bool addEntry(Function &kernel) {
    for (Argument &arg : kernel.args())
      if (arg.hasByValAttr() || arg.getType()->isAggregateType()) {
        error = ("kernel '" + kernel.getName() +
                 "' takes an aggregate by value, which the emulator's "
                 "launcher does not pass")
                    .str();
        return false;
      }
    kernel.setCallingConv(CallingConv::C);
    kernel.setLinkage(GlobalValue::InternalLinkage);
    Function *entry = Function::Create(
        FunctionType::get(Type::getVoidTy(ctx), {ptrTy()}, false),
        GlobalValue::ExternalLinkage, MOE_EMU_ENTRY_PREFIX + kernel.getName(),
        m);
    IRBuilder<> b(BasicBlock::Create(ctx, "", entry));
    SmallVector<Value *> args;
    for (Argument &arg : kernel.args()) {
      Value *slot =
          b.CreateConstGEP1_64(ptrTy(), entry->getArg(0), arg.getArgNo());
      args.push_back(b.CreateLoad(arg.getType(), b.CreateLoad(ptrTy(), slot)));
    }
    b.CreateCall(&kernel, args);
    b.CreateRetVoid();
    // The arguments' sizes, for captured launches.
    auto *i64 = Type::getInt64Ty(ctx);
    SmallVector<Constant *> sizes = {ConstantInt::get(i64, kernel.arg_size())};
    for (Argument &arg : kernel.args())
      sizes.push_back(ConstantInt::get(
          i64, m.getDataLayout().getTypeStoreSize(arg.getType())));
    ArrayType *sizesType = ArrayType::get(i64, sizes.size());
    new GlobalVariable(m, sizesType, /*isConstant=*/true,
                       GlobalValue::ExternalLinkage,
                       ConstantArray::get(sizesType, sizes),
                       MOE_EMU_ARGS_PREFIX + kernel.getName());
    return true;
  }

  /// {address, bytes} of every global the kernels may access, null-ended,
  /// for the emulator's bounds checks.
  void exportGlobalsTable() {
    auto *i64 = Type::getInt64Ty(ctx);
    StructType *entryType = StructType::get(ctx, {ptrTy(), i64});
    SmallVector<Constant *> entries;
    for (GlobalVariable &g : m.globals()) {
      if (g.isDeclaration() || g.getName().starts_with("__moe_emu_") ||
          g.getName().starts_with("llvm."))
        continue;
      Constant *address =
          ConstantExpr::getPointerBitCastOrAddrSpaceCast(&g, ptrTy());
      entries.push_back(ConstantStruct::get(
          entryType, {address, ConstantInt::get(i64, device.getTypeAllocSize(
                                                         g.getValueType()))}));
    }
    entries.push_back(ConstantStruct::get(
        entryType, {ConstantPointerNull::get(cast<PointerType>(ptrTy())),
                    ConstantInt::get(i64, 0)}));
    ArrayType *type = ArrayType::get(entryType, entries.size());
    new GlobalVariable(m, type, /*isConstant=*/true,
                       GlobalValue::ExternalLinkage,
                       ConstantArray::get(type, entries), MOE_EMU_GLOBALS);
  }

  Module &m;
  LLVMContext &ctx;
  const DataLayout device;
  std::string &error;
  SmallVector<Function *> kernels;
  DenseMap<std::pair<Function *, StringRef>, Value *> bases;
  DenseMap<std::pair<Function *, GlobalVariable *>, Value *> variables;
};
} // namespace

PreservedAnalyses
mlir::moe::RetargetForEmulationPass::run(Module &module,
                                         ModuleAnalysisManager &) {
  Retargeter(module, error).run(host, triple);
  return PreservedAnalyses::none();
}

bool mlir::moe::retargetForEmulation(Module &module, const DataLayout &host,
                                     const Triple &triple, std::string &error) {
  error.clear();
  ModuleAnalysisManager analyses;
  analyses.registerPass([] { return PassInstrumentationAnalysis(); });
  ModulePassManager pm;
  pm.addPass(RetargetForEmulationPass(host, triple, error));
  pm.run(module, analyses);
  return error.empty();
}
