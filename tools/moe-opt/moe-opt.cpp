//===- moe-opt.cpp - the moe compiler driver ------------------------------===//
//
// An mlir-opt style driver. Input is MLIR or an ONNX model (imported, its
// MoE blocks raised to moe.layer). With --emit=mlir (the default) the module
// goes to MlirOptMain, as bytecode for ONNX input, so every mlir-opt option
// works the same; --emit=llvm|obj|shared run the pass pipeline here and write
// LLVM IR, a host object file or a shared library.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/ONNXImport.h"
#include "moe/InitAll.h"
#include "moe/Passes/Passes.h"
#include "moe/Pipelines/Pipelines.h"
#include "moe/Target/Emit.h"
#include "moe/Target/SafeOutput.h"
#include "moe/Version.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

static llvm::cl::opt<bool> noRaise(
    "onnx-no-raise",
    llvm::cl::desc("For ONNX input: stop after import, without raising MoE "
                   "blocks to moe.layer"),
    llvm::cl::init(false));

static llvm::cl::opt<bool> onnxRemarks(
    "onnx-remarks",
    llvm::cl::desc("For ONNX input: print remarks, such as why an MoE-like "
                   "block stayed dense ops (default on; "
                   "--onnx-remarks=false silences them)"),
    llvm::cl::init(true));

static llvm::cl::opt<std::string> emit(
    "emit",
    llvm::cl::desc("What to write: mlir (default), llvm (LLVM IR), obj (host "
                   "object file), shared (shared library with the model's C "
                   "entry points, linked with libmoe_runtime.a), header "
                   "(the C declarations of those entry points) or ptx (the "
                   "PTX of a CUDA model's kernels); llvm, obj and shared "
                   "need the module lowered to the LLVM dialect, e.g. by "
                   "--moe-cpu-pipeline or --moe-cuda-pipeline, ptx the "
                   "latter"),
    llvm::cl::init("mlir"));

static llvm::cl::opt<std::string> targetCPU(
    "cpu",
    llvm::cl::desc("CPU to generate code for with --emit=llvm|obj|shared: "
                   "'host' (default; this machine's CPU and features, e.g. "
                   "AVX-512 or AVX2) or an LLVM CPU name such as 'haswell' "
                   "or 'skylake-avx512'"),
    llvm::cl::init("host"));

static llvm::cl::opt<std::string> weightsFile(
    "weights-file",
    llvm::cl::desc("Where --emit=shared|obj|llvm writes the weights of a model "
                   "compiled with external weights (the pipelines' weights= "
                   "option); default: the output with the extension "
                   ".weights. The library looks for this file name beside "
                   "itself"),
    llvm::cl::init(""));

/// Prints diagnostics of ONNX input as "file: error: ..." or
/// "MatMul node 'n': error: ..." rather than as raw locations.
static void installONNXDiagnostics(MLIRContext &context) {
  context.printOpOnDiagnostic(false);
  context.getDiagEngine().registerHandler([](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Remark && !onnxRemarks)
      return success();
    auto print = [](Diagnostic &d) {
      StringRef severity =
          d.getSeverity() == DiagnosticSeverity::Error     ? "error"
          : d.getSeverity() == DiagnosticSeverity::Warning ? "warning"
          : d.getSeverity() == DiagnosticSeverity::Remark  ? "remark"
                                                           : "note";
      llvm::errs() << moe::describeONNXLocation(d.getLocation()) << ": "
                   << severity << ": " << d.str() << "\n";
    };
    print(diag);
    for (Diagnostic &note : diag.getNotes())
      print(note);
    return success();
  });
}

/// Imports an ONNX model and raises its MoE blocks; null after an error.
static OwningOpRef<ModuleOp> importONNX(StringRef path, MLIRContext &context) {
  OwningOpRef<ModuleOp> module = moe::importONNXFile(path, &context);
  if (!module || noRaise)
    return module;
  PassManager pm(&context);
  moe::buildImportPipeline(pm);
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

/// How deep MLIR text may nest regions, attributes and types: the parser
/// recurses per level, and thousands of levels overflow its stack. Real
/// models nest a few dozen.
constexpr int kMaxNesting = 1000;

/// Whether `text` (MLIR assembly; bytecode passes) nests braces, brackets
/// or parentheses deeper than kMaxNesting outside string literals; prints
/// the error.
static bool nestsTooDeep(StringRef name, StringRef text) {
  if (text.starts_with("ML\xefR"))
    return false;
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == '{' || c == '[' || c == '(')
      ++depth;
    else if (c == '}' || c == ']' || c == ')')
      --depth;
    if (depth > kMaxNesting) {
      llvm::errs() << name << ": error: the input nests regions, attributes "
                   << "or types more than " << kMaxNesting
                   << " levels deep\n";
      return true;
    }
  }
  return false;
}

/// The MLIR input file, or null with the error printed (unreadable, or
/// nested too deep for the parser).
static std::unique_ptr<llvm::MemoryBuffer> openMlirInput(StringRef name) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = openInputFile(name, &error);
  if (!input) {
    llvm::errs() << "moe-opt: " << error << "\n";
    return nullptr;
  }
  if (nestsTooDeep(name, input->getBuffer()))
    return nullptr;
  return input;
}

/// --emit=llvm|obj|shared: parse or import, run the command line's passes,
/// then write the artifact.
static int compileToArtifact(StringRef inputFilename, StringRef outputFilename,
                             moe::EmitKind kind, DialectRegistry &registry) {
  MLIRContext context(registry);
  // --mlir-timing covers the whole compile: import, passes, emission.
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();
  llvm::SourceMgr sourceMgr;
  std::optional<SourceMgrDiagnosticHandler> mlirDiagnostics;
  OwningOpRef<ModuleOp> module;
  {
    TimingScope importTiming = timing.nest("Import");
    if (moe::isONNXPath(inputFilename)) {
      installONNXDiagnostics(context);
      module = importONNX(inputFilename, context);
    } else {
      context.printOpOnDiagnostic(false);
      mlirDiagnostics.emplace(sourceMgr, &context);
      std::unique_ptr<llvm::MemoryBuffer> input = openMlirInput(inputFilename);
      if (!input)
        return EXIT_FAILURE;
      sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
      module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    }
  }
  if (!module)
    return EXIT_FAILURE;
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  PassManager pm(&context);
  pm.enableTiming(timing);
  if (failed(applyPassManagerCLOptions(pm)) ||
      failed(config.setupPassPipeline(pm)) || failed(pm.run(*module)))
    return EXIT_FAILURE;
  TimingScope emitTiming = timing.nest("Emit");
  if (failed(moe::emitModule(*module, kind, outputFilename, targetCPU,
                             &emitTiming, weightsFile)))
    return EXIT_FAILURE;
  return EXIT_SUCCESS;
}

/// MlirOptMain on `input`, its output renamed over `outputFilename` only on
/// success (moe::SafeOutput).
static int runMlirOpt(std::unique_ptr<llvm::MemoryBuffer> input,
                      StringRef outputFilename, DialectRegistry &registry,
                      const MlirOptMainConfig &config) {
  std::string error;
  auto output = moe::SafeOutput::open(outputFilename, error);
  if (!output) {
    llvm::errs() << "moe-opt: " << error << "\n";
    return EXIT_FAILURE;
  }
  if (failed(MlirOptMain(output->os(), std::move(input), registry, config)))
    return EXIT_FAILURE;
  if (!output->commit(error)) {
    llvm::errs() << "moe-opt: " << error << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}

/// MLIR input: as mlir-opt, but never truncating an existing output on
/// failure.
static int runMlirOptSafely(int argc, char **argv, StringRef inputFilename,
                            StringRef outputFilename,
                            DialectRegistry &registry) {
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return asMainReturnCode(
        MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
  std::unique_ptr<llvm::MemoryBuffer> input = openMlirInput(inputFilename);
  if (!input)
    return EXIT_FAILURE;
  return runMlirOpt(std::move(input), outputFilename, registry, config);
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  DialectRegistry registry;
  moe::registerAllDialects(registry);
  moe::registerAllPasses();
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "moe-opt " MOE_VERSION " (git " MOE_GIT_HASH
          "): MLIR graph compiler for Mixture-of-Experts models\n";
  });
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv,
      "moe-opt: MoE graph compiler driver\n\n"
      "Input is MLIR (.mlir, bytecode), an ONNX model (.onnx) or ONNX "
      "textual syntax (.onnxtxt).\n",
      registry);

  // A failed compile must never destroy its input.
  if (moe::sameFile(inputFilename, outputFilename)) {
    llvm::errs() << "moe-opt: the output '" << outputFilename
                 << "' is the input file; write to another file\n";
    return EXIT_FAILURE;
  }
  std::optional<moe::EmitKind> kind = moe::parseEmitKind(emit);
  if (!kind) {
    llvm::errs() << "moe-opt: unknown --emit kind '" << emit
                 << "' (expected mlir, llvm, obj, shared, header or ptx)\n";
    return EXIT_FAILURE;
  }
  if (*kind != moe::EmitKind::MLIR)
    return compileToArtifact(inputFilename, outputFilename, *kind, registry);
  if (!moe::isONNXPath(inputFilename))
    return runMlirOptSafely(argc, argv, inputFilename, outputFilename,
                            registry);
  // ONNX to MLIR text: compiled here, so that errors name ONNX nodes.
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (!config.shouldEmitBytecode() && !config.shouldVerifyDiagnostics() &&
      !config.shouldDumpPassPipeline())
    return compileToArtifact(inputFilename, outputFilename, *kind, registry);

  // Otherwise the imported module reaches MlirOptMain as bytecode.
  std::string bytes;
  {
    MLIRContext context(registry);
    installONNXDiagnostics(context);
    OwningOpRef<ModuleOp> module = importONNX(inputFilename, context);
    if (!module)
      return EXIT_FAILURE;
    llvm::raw_string_ostream os(bytes);
    if (failed(writeBytecodeToFile(*module, os)))
      return EXIT_FAILURE;
  }
  return runMlirOpt(llvm::MemoryBuffer::getMemBufferCopy(bytes, inputFilename),
                    outputFilename, registry, config);
}
