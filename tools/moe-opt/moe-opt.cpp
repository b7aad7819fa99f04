//===- moe-opt.cpp - the moe compiler driver ------------------------------===//
//
// An mlir-opt style driver. MLIR input goes straight to MlirOptMain. ONNX
// input (.onnx, .onnxtxt) is imported and its MoE blocks raised to moe.layer
// first; the result is handed to MlirOptMain as bytecode, so every option
// (pass pipelines, -o, printing flags) works the same for both.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/ONNXImport.h"
#include "moe/InitAll.h"
#include "moe/Passes/Passes.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

static llvm::cl::opt<bool> noRaise(
    "onnx-no-raise",
    llvm::cl::desc("For ONNX input: stop after import, without raising MoE "
                   "blocks to moe.layer"),
    llvm::cl::init(false));

/// Imports an ONNX model and raises its MoE blocks; returns the module as
/// bytecode for MlirOptMain, or null after reporting an error.
static std::unique_ptr<llvm::MemoryBuffer>
importONNX(StringRef inputFilename, DialectRegistry &registry) {
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  // "file: error: ..." / "MatMul node 'n': error: ..." rather than raw locs.
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    auto print = [](Diagnostic &d) {
      StringRef severity = d.getSeverity() == DiagnosticSeverity::Error ? "error"
                           : d.getSeverity() == DiagnosticSeverity::Warning
                               ? "warning"
                               : "note";
      llvm::errs() << moe::describeONNXLocation(d.getLocation()) << ": "
                   << severity << ": " << d.str() << "\n";
    };
    print(diag);
    for (Diagnostic &note : diag.getNotes())
      print(note);
    return success();
  });
  OwningOpRef<ModuleOp> module = moe::importONNXFile(inputFilename, &context);
  if (!module)
    return nullptr;
  if (!noRaise) {
    PassManager pm(&context);
    pm.addPass(moe::createONNXRaiseMoE());
    if (failed(pm.run(*module)))
      return nullptr;
  }
  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  if (failed(writeBytecodeToFile(*module, os)))
    return nullptr;
  return llvm::MemoryBuffer::getMemBufferCopy(bytes, inputFilename);
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  DialectRegistry registry;
  moe::registerAllDialects(registry);
  moe::registerAllPasses();
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "moe-opt: MLIR graph compiler for Mixture-of-Experts models\n";
  });
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv,
      "moe-opt: MoE graph compiler driver\n\n"
      "Input is MLIR (.mlir, bytecode), an ONNX model (.onnx) or ONNX "
      "textual syntax (.onnxtxt).\n",
      registry);

  if (!moe::isONNXPath(inputFilename))
    return asMainReturnCode(
        MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  std::unique_ptr<llvm::MemoryBuffer> buffer =
      importONNX(inputFilename, registry);
  if (!buffer)
    return EXIT_FAILURE;
  std::string error;
  auto output = openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return EXIT_FAILURE;
  }
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (failed(MlirOptMain(output->os(), std::move(buffer), registry, config)))
    return EXIT_FAILURE;
  output->keep();
  return EXIT_SUCCESS;
}
