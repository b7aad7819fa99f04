//===- GPUSerialize.cpp - gpu.module -> cubin + PTX fat binary ------------===//
//
// Like upstream gpu-module-to-binary with format=fatbin, but keeping what
// users and tests need to see: the PTX (for --emit=ptx) and ptxas's
// resource report (registers, shared memory, spills) as properties of the
// object. The NVVM target attribute produces the PTX; ptxas and fatbinary
// from the CUDA toolkit make the cubin and wrap both, so a newer GPU than
// the one compiled for can JIT the PTX.
//
//===----------------------------------------------------------------------===//

#include "moe/Passes/GPU.h"
#include "moe/Runtime/GPUImage.h"
#include "moe/Target/GPUEmulation.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace mlir::moe {
#define GEN_PASS_DEF_GPUSERIALIZE
#include "passes/GPU/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {
/// The toolkit root: the option, else $CUDA_HOME, else /usr/local/cuda.
std::string toolkitRoot(StringRef option) {
  if (!option.empty())
    return option.str();
  if (std::optional<std::string> home = llvm::sys::Process::GetEnv("CUDA_HOME"))
    return *home;
  return "/usr/local/cuda";
}

/// `tool` from <root>/bin, else from PATH.
std::optional<std::string> findTool(StringRef root, StringRef tool) {
  SmallString<128> path(root);
  llvm::sys::path::append(path, "bin", tool);
  if (llvm::sys::fs::can_execute(path))
    return std::string(path);
  if (auto found = llvm::sys::findProgramByName(tool))
    return *found;
  return std::nullopt;
}

/// Temporary files removed when this goes out of scope.
struct TempFiles {
  SmallVector<std::string> paths;
  ~TempFiles() {
    for (const std::string &p : paths)
      llvm::sys::fs::remove(p);
  }
  FailureOr<std::string> make(StringRef suffix) {
    SmallString<128> path;
    if (llvm::sys::fs::createTemporaryFile("moe-gpu", suffix, path))
      return failure();
    paths.push_back(std::string(path));
    return std::string(path);
  }
};

/// Runs `args`, with stderr (and stdout) captured into `log`.
LogicalResult run(ArrayRef<StringRef> args, StringRef log, std::string &error) {
  std::optional<StringRef> redirects[] = {std::nullopt, log, log};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(args[0], args, std::nullopt, redirects, 0,
                                     0, &message);
  if (rc == 0)
    return success();
  error = message;
  if (auto text = llvm::MemoryBuffer::getFile(log))
    error += (error.empty() ? "" : "\n") + (*text)->getBuffer().trim().str();
  return failure();
}

/// Sum of "N bytes spill stores/loads" figures in a ptxas -v report.
int64_t spillBytes(StringRef report) {
  int64_t total = 0;
  SmallVector<StringRef> lines;
  report.split(lines, '\n');
  for (StringRef line : lines)
    for (StringRef what : {"bytes spill stores", "bytes spill loads"}) {
      size_t at = line.find(what);
      if (at == StringRef::npos)
        continue;
      StringRef before = line.take_front(at).rtrim();
      StringRef number = before.substr(before.find_last_of(' ') + 1);
      int64_t v = 0;
      if (!number.getAsInteger(10, v))
        total += v;
    }
  return total;
}

/// The fat binary and the emulator image behind a moe_gpu_image_header.
std::string container(StringRef fatbin, StringRef emulatorImage) {
  auto padded = [](uint64_t n) { return llvm::alignTo(n, 64); };
  moe_gpu_image_header header = {};
  memcpy(header.magic, MOE_GPU_IMAGE_MAGIC, sizeof(header.magic));
  header.fatbin_offset = padded(sizeof(header));
  header.fatbin_size = fatbin.size();
  header.emulator_offset = padded(header.fatbin_offset + fatbin.size());
  header.emulator_size = emulatorImage.size();
  std::string bytes(header.emulator_offset + emulatorImage.size(), '\0');
  memcpy(bytes.data(), &header, sizeof(header));
  memcpy(bytes.data() + header.fatbin_offset, fatbin.data(), fatbin.size());
  memcpy(bytes.data() + header.emulator_offset, emulatorImage.data(),
         emulatorImage.size());
  return bytes;
}

struct GPUSerializePass : moe::impl::GPUSerializeBase<GPUSerializePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<gpu::GPUModuleOp> modules;
    getOperation()->walk([&](gpu::GPUModuleOp m) { modules.push_back(m); });
    if (modules.empty())
      return;
    std::string root = toolkitRoot(toolkit);
    std::optional<std::string> ptxas = findTool(root, "ptxas");
    std::optional<std::string> fatbinary = findTool(root, "fatbinary");
    if (!ptxas || !fatbinary) {
      modules.front()->emitError()
          << "cannot make GPU binaries: ptxas and fatbinary from the CUDA "
             "toolkit were not found under '"
          << root
          << "/bin' nor on PATH (set CUDA_HOME or the pipeline's "
             "toolkit= option)";
      return signalPassFailure();
    }
    for (gpu::GPUModuleOp m : modules)
      if (failed(serialize(m, root, *ptxas, *fatbinary)))
        return signalPassFailure();
  }

  LogicalResult serialize(gpu::GPUModuleOp m, StringRef root, StringRef ptxas,
                          StringRef fatbinary) {
    ArrayAttr targets = m.getTargetsAttr();
    if (!targets || targets.size() != 1 ||
        !isa<NVVM::NVVMTargetAttr>(targets[0]))
      return m.emitError("expected exactly one #nvvm.target on the module "
                         "(run nvvm-attach-target first)");
    auto target = cast<NVVM::NVVMTargetAttr>(targets[0]);
    StringRef chip = target.getChip();
    if (!chip.starts_with("sm_"))
      return m.emitError() << "unsupported NVVM chip '" << chip << "'";

    // Loop latches keep scf.for's `llvm.loop_annotation` (a kernel's
    // unrolling choice) as a discardable attribute through the conversion
    // to LLVM, where the translation reads only the branch's own property.
    m.walk([](LLVM::BrOp br) {
      if (auto loop = br->getAttrOfType<LLVM::LoopAnnotationAttr>(
              "llvm.loop_annotation")) {
        br.setLoopAnnotationAttr(loop);
        br->removeAttr("llvm.loop_annotation");
      }
    });
    // Dynamic shared memory is declared, as CUDA's `extern __shared__`:
    // the lowering defines a zero-sized variable, which PTX makes a byte of
    // static shared memory and the emulator places among the static
    // variables, not after them, where the launch's bytes are.
    m.walk([](LLVM::GlobalOp g) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(g.getGlobalType());
      if (g.getAddrSpace() == 3 && array && array.getNumElements() == 0 &&
          !g.getValueOrNull() && g.getInitializerRegion().empty())
        g.setLinkage(LLVM::Linkage::External);
    });
    // PTX from the target's own serializer (it links libdevice from the
    // toolkit for math functions).
    SymbolTable *table = nullptr;
    std::optional<SymbolTable> symbols;
    auto symbolTable = [&]() -> SymbolTable * {
      if (!table) {
        symbols.emplace(m->getParentOp());
        table = &*symbols;
      }
      return table;
    };
    // The emulator's image is built from the module the NVPTX backend gets.
    std::string emulatorImage, emulatorError;
    std::string emulatorLibrary = emulator ? moe::findEmulatorLibrary() : "";
    if (emulator && emulatorLibrary.empty())
      emulatorError = "the emulator library libmoe_cuda_emulator.so is not "
                      "installed beside moe-opt";
    auto buildImage = [&](llvm::Module &optimized) {
      if (!emulatorLibrary.empty())
        moe::buildEmulatorImage(optimized, emulatorLibrary, emulatorImage,
                                emulatorError);
    };
    gpu::TargetOptions options(root, {}, "", "",
                               gpu::CompilationTarget::Assembly, symbolTable,
                               {}, {}, buildImage);
    auto iface = cast<gpu::TargetAttrInterface>(targets[0]);
    std::optional<SmallVector<char, 0>> ptxBytes =
        iface.serializeToObject(m, options);
    if (!ptxBytes)
      return m.emitError("generating PTX failed");
    StringRef ptx(ptxBytes->data(), ptxBytes->size());
    ptx = ptx.rtrim(StringRef("\0", 1));

    TempFiles temps;
    auto ptxPath = temps.make("ptx"), cubinPath = temps.make("cubin");
    auto fatbinPath = temps.make("fatbin"), logPath = temps.make("log");
    if (failed(ptxPath) || failed(cubinPath) || failed(fatbinPath) ||
        failed(logPath))
      return m.emitError("cannot create temporary files");
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(*ptxPath, ec);
      if (ec)
        return m.emitError() << "cannot write '" << *ptxPath << "'";
      os << ptx;
    }
    std::string arch = ("-arch=" + chip).str();
    std::string error;
    SmallVector<StringRef> ptxasArgs = {ptxas,    arch, "-O3",     "-v",
                                        *ptxPath, "-o", *cubinPath};
    if (failed(run(ptxasArgs, *logPath, error)))
      return m.emitError() << "ptxas failed for " << chip << ": " << error;
    auto log = llvm::MemoryBuffer::getFile(*logPath);
    std::string report = log ? (*log)->getBuffer().str() : "";
    int64_t spills = spillBytes(report);
    if (failOnSpills && spills > 0)
      return m.emitError() << "kernels of '" << m.getName() << "' spill "
                           << spills << " bytes of registers on " << chip
                           << ":\n"
                           << report;

    std::string sm = chip.drop_front(3).str();
    std::string elf = "--image3=kind=elf,sm=" + sm + ",file=" + *cubinPath;
    std::string ptxImage = "--image3=kind=ptx,sm=" + sm + ",file=" + *ptxPath;
    std::string create = "--create=" + *fatbinPath;
    SmallVector<StringRef> fatArgs = {fatbinary, "-64", create, elf, ptxImage};
    if (failed(run(fatArgs, *logPath, error)))
      return m.emitError() << "fatbinary failed: " << error;
    auto fatbin = llvm::MemoryBuffer::getFile(*fatbinPath, /*IsText=*/false);
    if (!fatbin)
      return m.emitError("cannot read the fat binary");

    std::string bytes = (*fatbin)->getBuffer().str();
    if (emulator && !emulatorError.empty())
      m.emitWarning() << "kernels of '" << m.getName()
                      << "' cannot run under the CUDA emulator: "
                      << emulatorError;
    else if (emulator)
      bytes = container(bytes, emulatorImage);

    MLIRContext *ctx = m.getContext();
    Builder b(ctx);
    DictionaryAttr properties = b.getDictionaryAttr(
        {b.getNamedAttr("ptx", b.getStringAttr(ptx)),
         b.getNamedAttr("ptxas_info", b.getStringAttr(report)),
         b.getNamedAttr("spill_bytes", b.getI64IntegerAttr(spills))});
    auto object = gpu::ObjectAttr::get(
        ctx, target, gpu::CompilationTarget::Fatbin,
        b.getStringAttr(bytes), properties, nullptr);
    OpBuilder builder(m);
    gpu::BinaryOp::create(builder, m.getLoc(), m.getName(), nullptr,
                          ArrayRef<Attribute>{object});
    m.erase();
    return success();
  }
};
} // namespace
