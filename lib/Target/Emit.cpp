//===- Emit.cpp - LLVM IR, object files and shared libraries --------------===//
//
// Host code generation for --emit: translate the LLVM dialect to LLVM IR,
// optimize at -O2 for the host CPU, write an object file, and link shared
// libraries with the system C compiler driver and libmoe_runtime.a.
//
//===----------------------------------------------------------------------===//

#include "moe/Target/Emit.h"
#include "moe/Passes/Runtime.h"
#include "moe/Runtime/Symbols.h"
#include "moe/Target/SafeOutput.h"

#include "EntryPoint.h"
#include "ExpandBF16.h"
#include "OutlineLongBlocks.h"
#include "Weights.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"

using namespace mlir;

std::optional<moe::EmitKind> moe::parseEmitKind(StringRef name) {
  return llvm::StringSwitch<std::optional<EmitKind>>(name)
      .Case("mlir", EmitKind::MLIR)
      .Case("llvm", EmitKind::LLVMIR)
      .Case("obj", EmitKind::Object)
      .Case("shared", EmitKind::Shared)
      .Case("header", EmitKind::Header)
      .Case("ptx", EmitKind::PTX)
      .Default(std::nullopt);
}

namespace {
/// Longer straight-line blocks (outside loops) are cut into pieces of this
/// many instructions, each a function, before code generation.
constexpr unsigned kMaxBlockInstructions = 1000;

/// A target machine for this host's architecture, generating code for `cpu`
/// ("host" picks this CPU and its exact features, e.g. AVX-512 or AVX2).
std::unique_ptr<llvm::TargetMachine> targetMachine(StringRef cpu,
                                                   std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpuName, featureString;
  if (cpu == "host") {
    cpuName = llvm::sys::getHostCPUName().str();
    for (auto &f : llvm::sys::getHostCPUFeatures())
      featureString += (f.second ? "+" : "-") + f.first().str() + ",";
  } else {
    cpuName = cpu.str();
    // Check the name first: LLVM would only warn and fall back.
    if (triple.isX86() &&
        llvm::X86::parseArchX86(cpuName, /*Only64Bit=*/triple.isArch64Bit()) ==
            llvm::X86::CK_None) {
      error = "unknown CPU '" + cpuName + "' for " + triple.str() +
              " (try 'host', 'haswell' for AVX2, 'skylake-avx512' for "
              "AVX-512)";
      return nullptr;
    }
  }
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpuName, featureString, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  return tm;
}

void optimize(llvm::Module &module, llvm::TargetMachine &tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2)
      .run(module, mam);
}

/// libmoe_runtime.a next to the running tool: <prefix>/lib beside <prefix>/bin.
std::string runtimeLibrary() {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable("moe-opt", &anchor);
  SmallString<256> path(
      llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
  llvm::sys::path::append(path, "lib", "libmoe_runtime.a");
  return std::string(path);
}
} // namespace

LogicalResult moe::emitModule(ModuleOp module, EmitKind kind,
                              StringRef outputPath, StringRef cpu,
                              TimingScope *timing, StringRef weightsPath) {
  std::string error;
  TimingScope noTiming;
  TimingScope &phases = timing ? *timing : noTiming;
  if (kind == EmitKind::Header) {
    FailureOr<std::string> header = detail::generateHeader(module);
    if (failed(header))
      return failure();
    auto out = SafeOutput::open(outputPath, error);
    if (!out)
      return module.emitError() << error;
    out->os() << *header;
    if (!out->commit(error))
      return module.emitError() << error;
    return success();
  }
  if (kind == EmitKind::PTX) {
    // The PTX that moe-gpu-serialize kept beside each fat binary.
    std::string text;
    for (auto binary : module.getOps<gpu::BinaryOp>())
      for (Attribute a : binary.getObjects()) {
        auto object = cast<gpu::ObjectAttr>(a);
        DictionaryAttr props = object.getProperties();
        auto ptx = props ? props.getAs<StringAttr>("ptx") : StringAttr();
        if (!ptx)
          continue;
        text += "// ---- GPU module @" + binary.getName().str() + " (" +
                llvm::formatv("{0}", object.getTarget()).str() + ")\n";
        text += ptx.str() + "\n";
      }
    if (text.empty())
      return module.emitError(
          "no PTX to emit: compile with --moe-cuda-pipeline first");
    auto out = SafeOutput::open(outputPath, error);
    if (!out)
      return module.emitError() << error;
    out->os() << text;
    if (!out->commit(error))
      return module.emitError() << error;
    return success();
  }
  if (kind == EmitKind::MLIR) {
    auto out = SafeOutput::open(outputPath, error);
    if (!out)
      return module.emitError() << error;
    module.print(out->os());
    if (!out->commit(error))
      return module.emitError() << error;
    return success();
  }

  // The C entry points need the annotations read before they are dropped.
  // Importer annotations (onnx.name on arguments and results) have no LLVM
  // meaning; drop them rather than have the translation warn about each.
  module.walk([](FunctionOpInterface fn) {
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      for (NamedAttribute a : SmallVector<NamedAttribute>(fn.getArgAttrs(i)))
        if (a.getName().strref().starts_with("onnx."))
          fn.removeArgAttr(i, a.getName());
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i)
      for (NamedAttribute a : SmallVector<NamedAttribute>(fn.getResultAttrs(i)))
        if (a.getName().strref().starts_with("onnx."))
          fn.removeResultAttr(i, a.getName());
  });

  // Moved weights go to their file (committed with the artifact) rather
  // than into the LLVM module.
  std::unique_ptr<SafeOutput> weights;
  if (module->hasAttr(kWeightsAttr)) {
    if (weightsPath.empty() && outputPath == "-")
      return module.emitError("the model's weights go to a weights file: "
                              "name the output (-o FILE) or --weights-file");
    if (weightsPath.empty() && isSpecialFile(outputPath))
      return module.emitError()
             << "the model's weights go to a weights file: name it "
                "(--weights-file) when the output '"
             << outputPath << "' is not a regular file";
    std::string path = weightsPath.empty() ? detail::defaultWeightsPath(
                                                 outputPath)
                                           : weightsPath.str();
    if (sameFile(outputPath, path))
      return module.emitError()
             << "the weights file '" << path << "' would overwrite the output";
    TimingScope weightsTiming = phases.nest("Write weights file");
    FailureOr<std::unique_ptr<SafeOutput>> written =
        detail::writeWeightsFile(module, path);
    if (failed(written))
      return failure();
    weights = std::move(*written);
  }
  auto commitWeights = [&]() -> LogicalResult {
    if (weights && !weights->commit(error))
      return module.emitError() << error;
    return success();
  };

  llvm::LLVMContext llvmContext;
  TimingScope translateTiming = phases.nest("Translate to LLVM IR");
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  translateTiming.stop();
  if (!llvmModule)
    return module.emitError(
        "cannot translate to LLVM IR: lower the module to the LLVM dialect "
        "first (e.g. --moe-cpu-pipeline)");
  std::unique_ptr<llvm::TargetMachine> tm = targetMachine(cpu, error);
  if (!tm)
    return module.emitError() << "cannot generate code: " << error;
  // int8-activations=vnni (or auto on a VNNI host) needs a VNNI target:
  // instruction selection would otherwise abort.
  if (llvmModule->getFunction("llvm.x86.avx512.vpdpbusd.512") &&
      !tm->getMCSubtargetInfo()->checkFeatures("+avx512vnni"))
    return module.emitError()
           << "the model uses AVX512-VNNI (int8-activations=vnni or auto "
              "on a VNNI host) but the target CPU '"
           << tm->getTargetCPU()
           << "' lacks it: compile with int8-activations=generic for it";
  // bf16 GEMMs use vdpbf16ps where the target has it, the same sums in
  // plain vector code elsewhere (and bf16 rounding without a libcall).
  if (!tm->getMCSubtargetInfo()->checkFeatures("+avx512bf16"))
    detail::expandBF16(*llvmModule);
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tm->getTargetTriple());
  {
    TimingScope optimizeTiming = phases.nest("Optimize LLVM IR (O2)");
    optimize(*llvmModule, *tm);
  }
  {
    TimingScope outlineTiming = phases.nest("Outline long blocks");
    detail::outlineLongBlocks(*llvmModule, kMaxBlockInstructions);
  }
  // The generated code's buffers go through the runtime, which frees them
  // when a call fails part-way and reports allocation failures.
  for (auto [from, to] : {std::pair{"malloc", runtime::kMalloc},
                          std::pair{"free", runtime::kFree}})
    if (llvm::Function *fn = llvmModule->getFunction(from))
      fn->setName(to);

  if (kind == EmitKind::LLVMIR) {
    auto out = SafeOutput::open(outputPath, error);
    if (!out)
      return module.emitError() << error;
    llvmModule->print(out->os(), nullptr);
    if (!out->commit(error))
      return module.emitError() << error;
    return commitWeights();
  }

  if (outputPath == "-")
    return module.emitError("binary output needs a file name (-o FILE)");
  // Objects go to the output (through a temporary beside it); libraries
  // link a temporary object.
  SmallString<128> objectPath(outputPath);
  int tempFd = -1;
  if (kind == EmitKind::Shared &&
      llvm::sys::fs::createTemporaryFile("moe-model", "o", tempFd, objectPath))
    return module.emitError("cannot create a temporary object file");
  if (tempFd >= 0)
    llvm::sys::Process::SafelyCloseFileDescriptor(tempFd);
  {
    TimingScope codegenTiming = phases.nest("Generate machine code");
    auto out = SafeOutput::open(objectPath, error);
    if (!out)
      return module.emitError() << error;
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, out->os(), nullptr,
                                llvm::CodeGenFileType::ObjectFile))
      return module.emitError("the host target cannot emit object files");
    pm.run(*llvmModule);
    if (!out->commit(error))
      return module.emitError() << error;
  }
  if (kind == EmitKind::Object)
    return commitWeights();

  llvm::scope_exit removeObject([&] { llvm::sys::fs::remove(objectPath); });
  TimingScope linkTiming = phases.nest("Compile entry points and link (cc)");
  FailureOr<std::string> entrySource = detail::generateEntrySource(module);
  if (failed(entrySource))
    return failure();
  SmallString<128> sourcePath;
  if (llvm::sys::fs::createTemporaryFile("moe-entry", "c", sourcePath))
    return module.emitError("cannot create a temporary source file");
  llvm::scope_exit removeSource([&] { llvm::sys::fs::remove(sourcePath); });
  {
    std::error_code ec;
    llvm::raw_fd_ostream source(sourcePath, ec);
    if (ec)
      return module.emitError() << "cannot write '" << sourcePath << "'";
    source << *entrySource;
  }
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return module.emitError("--emit=shared links with the C compiler driver "
                            "'cc', which is not on PATH; use --emit=obj and "
                            "link with libmoe_runtime.a yourself");
  std::string runtime = runtimeLibrary();
  if (!llvm::sys::fs::exists(runtime))
    return module.emitError()
           << "runtime library '" << runtime << "' not found next to moe-opt";
  std::optional<std::string> tempLibPath = uniqueSibling(outputPath, error);
  if (!tempLibPath)
    return module.emitError() << error;
  SmallString<128> tempLib(*tempLibPath);
  // The runtime stays private to the library (--exclude-libs): its libomp
  // entry points must not interpose on, or be interposed by, an OpenMP
  // runtime of the host application.
  SmallVector<StringRef> args = {*cc,
                                 "-shared",
                                 "-O2",
                                 "-fPIC",
                                 "-o",
                                 tempLib,
                                 objectPath,
                                 sourcePath,
                                 runtime,
                                 "-Wl,--exclude-libs,ALL",
                                 "-Wl,-Bsymbolic",
                                 "-lpthread",
                                 "-ldl",
                                 "-lm"};
  // Sharded models call the runtime's MPI collectives; others do not need
  // libmpi, and --as-needed leaves it out of them.
  SmallVector<StringRef> mpiLibs;
  StringRef(MOE_MPI_LIBRARIES).split(mpiLibs, ',', -1, /*KeepEmpty=*/false);
  if (!mpiLibs.empty()) {
    args.push_back("-Wl,--as-needed");
    args.append(mpiLibs.begin(), mpiLibs.end());
    args.push_back("-Wl,--no-as-needed");
  }
  std::string linkError;
  int rc =
      llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &linkError);
  if (rc != 0) {
    llvm::sys::fs::remove(tempLib);
    return module.emitError() << "linking the shared library failed"
                              << (linkError.empty() ? "" : ": ") << linkError;
  }
  // The weights first: a library never sits beside weights it refuses.
  if (failed(commitWeights())) {
    llvm::sys::fs::remove(tempLib);
    return failure();
  }
  // A device (/dev/null) gets the library's bytes; anything else the
  // library itself, renamed over it.
  std::error_code ec;
  if (isSpecialFile(outputPath)) {
    auto bytes = llvm::MemoryBuffer::getFile(tempLib, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
    auto out = SafeOutput::open(outputPath, error);
    if (bytes && out) {
      out->os() << (*bytes)->getBuffer();
      if (!out->commit(error))
        ec = std::make_error_code(std::errc::io_error);
    } else {
      ec = bytes ? std::make_error_code(std::errc::io_error) : bytes.getError();
    }
    llvm::sys::fs::remove(tempLib);
  } else if ((ec = llvm::sys::fs::rename(tempLib, outputPath))) {
    llvm::sys::fs::remove(tempLib);
  }
  if (ec)
    return module.emitError()
           << "cannot write '" << outputPath << "': " << ec.message();
  return success();
}
