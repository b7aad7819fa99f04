//===- Image.cpp - the emulator's shared object for a kernel module -------===//
//
// Clone, retarget (Retarget.cpp), compile for a baseline x86-64 (the image
// must run wherever the model runs) and link with the C compiler driver
// against the emulator library: --no-undefined turns an NVVM intrinsic the
// emulator does not implement into an error here, not at load time.
//
//===----------------------------------------------------------------------===//

#include "moe/Target/GPUEmulation.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"

using namespace llvm;

std::string mlir::moe::findEmulatorLibrary() {
  static int anchor;
  std::string exe = sys::fs::getMainExecutable("moe-opt", &anchor);
  SmallString<256> path(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(path, "lib", "libmoe_cuda_emulator.so");
  return sys::fs::exists(path) ? std::string(path) : std::string();
}

namespace {
/// The intrinsics named by "undefined reference to `__moe_emu_X'" lines.
std::string missingIntrinsics(StringRef log) {
  StringSet<> names;
  std::string list;
  for (size_t at = log.find("`__moe_emu_"); at != StringRef::npos;
       at = log.find("`__moe_emu_", at + 1)) {
    StringRef rest = log.substr(at + 11);
    StringRef name = rest.take_until([](char c) { return c == '\''; });
    if (!names.insert(name).second)
      continue;
    std::string intrinsic = "llvm.nvvm." + name.str();
    std::replace(intrinsic.begin(), intrinsic.end(), '_', '.');
    list += (list.empty() ? "" : ", ") + intrinsic;
  }
  return list;
}
} // namespace

std::unique_ptr<TargetMachine>
mlir::moe::emulatorTargetMachine(std::string &error) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  Triple triple(sys::getDefaultTargetTriple());
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  if (!triple.isX86() || !triple.isArch64Bit()) {
    error = "the CUDA emulator runs on x86-64 hosts only";
    return nullptr;
  }
  return std::unique_ptr<TargetMachine>(target->createTargetMachine(
      triple, "x86-64", "", TargetOptions(), Reloc::PIC_, std::nullopt,
      CodeGenOptLevel::Default));
}

bool mlir::moe::buildEmulatorImage(const Module &device,
                                   StringRef emulatorLibrary,
                                   std::string &image, std::string &error) {
  std::unique_ptr<TargetMachine> tm = emulatorTargetMachine(error);
  if (!tm)
    return false;
  std::unique_ptr<Module> host = CloneModule(device);
  if (!retargetForEmulation(*host, tm->createDataLayout(),
                            tm->getTargetTriple(), error))
    return false;

  SmallString<128> object, library, log;
  if (sys::fs::createTemporaryFile("moe-emu", "o", object) ||
      sys::fs::createTemporaryFile("moe-emu", "so", library) ||
      sys::fs::createTemporaryFile("moe-emu", "log", log)) {
    error = "cannot create temporary files";
    return false;
  }
  scope_exit cleanup([&] {
    sys::fs::remove(object);
    sys::fs::remove(library);
    sys::fs::remove(log);
  });
  {
    std::error_code ec;
    raw_fd_ostream os(object, ec, sys::fs::OF_None);
    if (ec) {
      error = "cannot write '" + std::string(object) + "'";
      return false;
    }
    legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr, CodeGenFileType::ObjectFile)) {
      error = "the host target cannot emit object files";
      return false;
    }
    pm.run(*host);
  }
  auto cc = sys::findProgramByName("cc");
  if (!cc) {
    error = "the C compiler driver 'cc' is not on PATH";
    return false;
  }
  SmallVector<StringRef> args = {*cc,
                                 "-shared",
                                 "-o",
                                 library,
                                 object,
                                 emulatorLibrary,
                                 "-Wl,--no-undefined",
                                 "-lm"};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string message;
  int rc =
      sys::ExecuteAndWait(*cc, args, std::nullopt, redirects, 0, 0, &message);
  if (rc != 0) {
    auto text = MemoryBuffer::getFile(log);
    StringRef output = text ? (*text)->getBuffer() : StringRef(message);
    std::string missing = missingIntrinsics(output);
    error = missing.empty()
                ? "linking the emulator image failed: " + output.trim().str()
                : "the CUDA emulator does not implement " + missing;
    return false;
  }
  auto bytes = MemoryBuffer::getFile(library, /*IsText=*/false);
  if (!bytes) {
    error = "cannot read the emulator image";
    return false;
  }
  image = (*bytes)->getBuffer().str();
  return true;
}
