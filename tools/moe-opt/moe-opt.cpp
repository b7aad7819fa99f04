//===- moe-opt.cpp - the moe compiler driver ------------------------------===//
//
// An mlir-opt style driver: parses MLIR, runs the passes named on the command
// line (ours and upstream's) and prints the result. Front ends for other input
// formats and artifact emission plug in before MlirOptMain takes over.
//
//===----------------------------------------------------------------------===//

#include "moe/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::moe::registerAllDialects(registry);
  mlir::moe::registerAllPasses();
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "moe-opt: MLIR graph compiler for Mixture-of-Experts models\n";
  });
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "moe-opt: MoE graph compiler driver\n", registry));
}
