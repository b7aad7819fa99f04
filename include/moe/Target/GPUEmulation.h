//===- GPUEmulation.h - GPU kernels compiled to run in the CUDA emulator --===//
//
// The kernels of a gpu.module, as the NVPTX backend receives them, are
// rewritten for the host (NVVM intrinsics become calls into the emulator
// runtime, shared memory becomes per-block memory, every memory access is
// checked) and linked into a shared object that the emulator loads in place
// of a cubin (runtime/cuda-emulator).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TARGET_GPUEMULATION_H
#define MOE_TARGET_GPUEMULATION_H

#include "llvm/ADT/StringRef.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/PassManager.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>
#include <string>

namespace llvm {
class TargetMachine;
} // namespace llvm

namespace mlir::moe {

/// The rewrite as a new-pass-manager module pass; a module it cannot
/// rewrite is left unverified with the reason in `error()` (check it after
/// running).
class RetargetForEmulationPass
    : public llvm::PassInfoMixin<RetargetForEmulationPass> {
public:
  RetargetForEmulationPass(llvm::DataLayout host, llvm::Triple triple,
                           std::string &error)
      : host(std::move(host)), triple(std::move(triple)), error(error) {}
  llvm::PreservedAnalyses run(llvm::Module &module,
                              llvm::ModuleAnalysisManager &);

private:
  llvm::DataLayout host;
  llvm::Triple triple;
  std::string &error;
};

/// Rewrites NVPTX-targeted `module` in place into host code for the
/// emulator (see Retarget.cpp for the contract with the runtime). Returns
/// false with `error` set when the module uses something the rewrite cannot
/// express.
bool retargetForEmulation(llvm::Module &module, const llvm::DataLayout &host,
                          const llvm::Triple &triple, std::string &error);

/// The target the emulator's images are compiled for: baseline x86-64 of
/// this host's triple (an image must run wherever the model runs); null
/// with `error` set on other hosts.
std::unique_ptr<llvm::TargetMachine> emulatorTargetMachine(std::string &error);

/// The emulator image of `device` (left unchanged): a shared object built
/// with the C compiler driver and linked against `emulatorLibrary`, whose
/// exports are the intrinsics the emulator implements.
bool buildEmulatorImage(const llvm::Module &device,
                        llvm::StringRef emulatorLibrary, std::string &image,
                        std::string &error);

/// libmoe_cuda_emulator.so beside the running tool (<prefix>/lib), or ""
/// when it is not there.
std::string findEmulatorLibrary();

} // namespace mlir::moe

#endif
