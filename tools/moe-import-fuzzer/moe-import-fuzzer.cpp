//===- moe-import-fuzzer.cpp - libFuzzer target for the ONNX importer -----===//
//
// Feeds arbitrary bytes to the importer, as binary protobuf and as ONNX text
// (first byte selects), then verifies and raises what was imported. Any crash,
// hang, sanitizer report or leak is a bug; errors are expected and ignored.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/ONNXImport.h"
#include "moe/InitAll.h"
#include "moe/Passes/MoE.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::moe::registerAllDialects(*r);
    return r;
  }();
  if (size == 0)
    return 0;
  bool text = data[0] & 1;
  llvm::StringRef bytes(reinterpret_cast<const char *>(data + 1), size - 1);
  mlir::MLIRContext context(*registry, mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  // A directory that does not exist: external data must fail cleanly.
  auto module = mlir::moe::importONNXBuffer(
      bytes, "/nonexistent-fuzz-dir/model.onnx", text, &context);
  if (!module)
    return 0;
  mlir::PassManager pm(&context);
  mlir::moe::buildImportPipeline(pm);
  pm.addPass(mlir::moe::createMoEDecompose());
  (void)pm.run(*module);
  return 0;
}
