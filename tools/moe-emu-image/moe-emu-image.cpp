//===- moe-emu-image.cpp - NVVM LLVM IR -> CUDA emulator image ------------===//
//
// Builds the shared object the CUDA emulator loads from kernels written as
// the LLVM IR the NVPTX backend receives: what moe-gpu-serialize embeds in
// every CUDA model, for hand-written kernels (the emulator's own tests) and
// for looking at what the emulator runs (--emit-llvm prints the rewritten
// module).
//
//===----------------------------------------------------------------------===//

#include "moe/Target/GPUEmulation.h"
#include "moe/Target/SafeOutput.h"
#include "moe/Version.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Target/TargetMachine.h"

using namespace llvm;

static cl::opt<std::string> input(cl::Positional, cl::desc("<kernels.ll>"),
                                  cl::Required);
static cl::opt<std::string> output("o", cl::desc("Output file"),
                                   cl::value_desc("path"), cl::Required);
static cl::opt<bool> emitLLVM(
    "emit-llvm",
    cl::desc("Write the retargeted LLVM IR instead of the shared object"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::AddExtraVersionPrinter([](raw_ostream &os) {
    os << "moe-emu-image " MOE_VERSION " (git " MOE_GIT_HASH ")\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "moe-emu-image: kernels in NVVM LLVM IR -> a CUDA emulator image\n");
  LLVMContext ctx;
  SMDiagnostic diag;
  std::unique_ptr<Module> module = parseIRFile(input, diag, ctx);
  if (!module) {
    diag.print(argv[0], errs());
    return 1;
  }
  std::string bytes, error;
  if (emitLLVM) {
    std::unique_ptr<TargetMachine> tm = mlir::moe::emulatorTargetMachine(error);
    if (!tm) {
      errs() << argv[0] << ": " << error << "\n";
      return 1;
    }
    if (!mlir::moe::retargetForEmulation(*module, tm->createDataLayout(),
                                         tm->getTargetTriple(), error)) {
      errs() << input << ": " << error << "\n";
      return 1;
    }
    raw_string_ostream os(bytes);
    module->print(os, nullptr);
  } else {
    std::string library = mlir::moe::findEmulatorLibrary();
    if (library.empty()) {
      errs() << argv[0]
             << ": libmoe_cuda_emulator.so is not installed beside this tool\n";
      return 1;
    }
    if (!mlir::moe::buildEmulatorImage(*module, library, bytes, error)) {
      errs() << input << ": " << error << "\n";
      return 1;
    }
  }
  auto out = mlir::moe::SafeOutput::open(output, error);
  if (!out) {
    errs() << argv[0] << ": " << error << "\n";
    return 1;
  }
  out->os() << bytes;
  if (!out->commit(error)) {
    errs() << argv[0] << ": " << error << "\n";
    return 1;
  }
  return 0;
}
