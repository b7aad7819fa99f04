//===- EntryPoint.cpp - C entry points of compiled models -----------------===//
//
// Generated models expose a small, documented C ABI (see the header text
// below) instead of MLIR's memref descriptors: the entry point checks every
// input against the recorded signature (element type, rank, static sizes,
// and equal sizes for equal ONNX dim_params) before any generated code reads
// it, and returns outputs as plain malloc'd row-major buffers.
//
//===----------------------------------------------------------------------===//

#include "EntryPoint.h"
#include "EntrySignature.h"

#include "moe/Passes/GPU.h"
#include "moe/Passes/Runtime.h"
#include "moe/Runtime/Symbols.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::moe::detail;
namespace runtime = mlir::moe::runtime;

unsigned mlir::moe::detail::dtypeBytes(Type t) {
  if (t.isSignlessInteger(1))
    return 1;
  return t.getIntOrFloatBitWidth() / 8;
}

std::string mlir::moe::detail::cString(StringRef s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c >= 32 && c < 127)
      out += c;
    else
      out += llvm::formatv("\\{0:o3}", static_cast<unsigned char>(c)).str();
  }
  return out + "\"";
}

void mlir::moe::detail::printRowMajorDescriptor(llvm::raw_ostream &os,
                                                StringRef name, int64_t rank,
                                                StringRef data,
                                                StringRef shape) {
  os << "  struct moe_memref" << rank << " " << name << " = {" << data << ", "
     << data << ", 0";
  if (rank > 0) {
    os << ", {";
    for (int64_t d = 0; d < rank; ++d)
      os << shape << "[" << d << "], ";
    os << "}, {0}";
  }
  os << "};\n";
  for (int64_t d = rank - 1; d >= 0; --d)
    os << "  " << name << ".strides[" << d << "] = "
       << (d == rank - 1 ? std::string("1")
                         : llvm::formatv("{0}.strides[{1}] * {0}.sizes[{1}]",
                                         name, d + 1)
                               .str())
       << ";\n";
}

void mlir::moe::detail::printCudaAvailableCheck(llvm::raw_ostream &os) {
  os << "  {\n    char why[384];\n    if (!" << runtime::kCudaAvailable
     << "(why, sizeof(why))) {\n"
        "      moe__fail(error, error_size, \"cannot run on CUDA: %s\", "
        "why);\n      return MOE_ERROR_DEVICE;\n    }\n  }\n";
}

void mlir::moe::detail::printSerializedCall(llvm::raw_ostream &os,
                                            StringRef name, StringRef params,
                                            StringRef serialized,
                                            StringRef args) {
  os << "int " << name << "(" << params << ") {\n"
     << "  moe_runtime_call_begin();\n"
     << "  int rc = " << serialized << "(" << args << ");\n"
     << "  " << runtime::kEndAllocations << "(rc != MOE_OK);\n"
     << "  moe_runtime_call_end();\n  return rc;\n}\n";
}

namespace {

/// The ABI types, the text of include/moe/Runtime/ModelABI.h (one source
/// for the generated code and for the tools that load models).
constexpr const char *kABITypes =
#include "ModelABI.inc"
    ;

/// The declarations of the runtime functions the entry points call: the
/// text of include/moe/Runtime/{Errors,Threads,CUDA}.h.
constexpr const char *kRuntimeHeaders =
#include "RuntimeHeaders.inc"
    ;

std::string dtypeName(Type t) {
  if (t.isF32())
    return "MOE_DTYPE_F32";
  if (t.isF16())
    return "MOE_DTYPE_F16";
  if (t.isBF16())
    return "MOE_DTYPE_BF16";
  if (t.isSignlessInteger(32))
    return "MOE_DTYPE_I32";
  if (t.isSignlessInteger(64))
    return "MOE_DTYPE_I64";
  if (t.isSignlessInteger(8))
    return "MOE_DTYPE_I8";
  if (t.isSignlessInteger(16))
    return "MOE_DTYPE_I16";
  return "MOE_DTYPE_BOOL";
}

/// CUDA models carry their kernels as gpu.binary ops.
bool isCUDAModel(ModuleOp module) {
  return !module.getOps<gpu::BinaryOp>().empty();
}

FailureOr<SmallVector<EntrySig>> collectEntries(ModuleOp module) {
  SmallVector<EntrySig> entries;
  bool bad = false;
  module.walk([&](FunctionOpInterface fn) {
    auto abi = fn->getAttrOfType<DictionaryAttr>("moe.abi");
    if (!abi || fn.getName().starts_with("_mlir_ciface_"))
      return;
    EntrySig entry;
    entry.function = fn.getName().str();
    auto read = [&](StringRef key, SmallVectorImpl<TensorSig> &out) {
      auto list = abi.getAs<ArrayAttr>(key);
      for (Attribute a : list ? list : ArrayAttr()) {
        auto d = cast<DictionaryAttr>(a);
        TensorSig sig;
        sig.name = d.getAs<StringAttr>("name").str();
        sig.type = cast<RankedTensorType>(d.getAs<TypeAttr>("type").getValue());
        for (Attribute n : d.getAs<ArrayAttr>("dims"))
          sig.dims.push_back(cast<StringAttr>(n).str());
        if (sig.type.getRank() > 8) {
          fn->emitError() << "'" << sig.name
                          << "' has rank > 8, beyond the model C ABI";
          bad = true;
        }
        out.push_back(std::move(sig));
      }
    };
    read("inputs", entry.inputs);
    read("outputs", entry.outputs);
    entries.push_back(std::move(entry));
  });
  if (bad)
    return failure();
  if (entries.empty()) {
    // A function the C interface cannot take says why.
    std::string why;
    module.walk([&](Operation *op) {
      if (auto reason = op->getAttrOfType<StringAttr>("moe.abi_unsupported"))
        if (why.empty())
          why = reason.str();
    });
    if (!why.empty())
      return module.emitError()
             << "the model's " << why
             << ", which a compiled model's C interface does not take (f32, "
                "f16, bf16, i8, i16, i32, i64 and bool tensors)";
    return module.emitError("no entry function carries a moe.abi signature "
                            "(compile with --moe-cpu-pipeline, or run "
                            "--moe-annotate-abi before lowering)");
  }
  return entries;
}

void printDeclarations(llvm::raw_ostream &os, ArrayRef<EntrySig> entries,
                       bool cuda) {
  for (const EntrySig &e : entries) {
    os << "\n/* " << e.function << ":\n";
    auto describe = [&](StringRef kind, const TensorSig &t) {
      os << " *   " << kind << " " << t.name << ": " << t.type << "\n";
    };
    for (const TensorSig &t : e.inputs)
      describe("input ", t);
    for (const TensorSig &t : e.outputs)
      describe("output", t);
    os << " * " << e.function
       << "_run checks the inputs, runs the model and "
          "fills `outputs` with\n * malloc'd buffers the caller releases with "
          "free(). On error it returns\n * non-zero and writes a message to "
          "`error` (error_size bytes, may be NULL).\n * Thread-safe: calls "
          "from several threads run one at a time, each with\n * the "
          "library's whole thread pool.";
    if (cuda)
      os << "\n * On CUDA, where " << e.function
         << "_run_async can run the model and the\n * inputs' shapes give "
            "the outputs' (unless output sizes depend on the\n * data), it "
            "runs that on device buffers it keeps between calls (the\n * "
            "tensors copied in and out, one wait), so its calls with the "
            "same\n * shapes replay one CUDA graph; otherwise kernel by "
            "kernel.";
    os << " */\n";
    os << "const moe_model_info *" << e.function << "_info(void);\n";
    os << "int " << e.function
       << "_run(const moe_tensor *inputs, int32_t num_inputs,\n"
          "    moe_tensor *outputs, int32_t num_outputs, char *error, "
          "size_t error_size);\n";
  }
  os << "\n/* The device the model runs on: \"cpu\" or \"cuda\". */\n"
        "const char *moe_model_device(void);\n"
        "/* GPU time of the last run on CUDA (CUDA events around the model's "
        "kernels),\n * in milliseconds; 0 for CPU models. */\n"
        "double moe_model_last_device_ms(void);\n";
  os << "\n/* Threads used by the model's parallel loops (default: the "
        "online CPUs,\n * or MOE_NUM_THREADS). */\n"
        "void moe_model_set_num_threads(int32_t n);\n";
  os << "\n/* The weights file (models compiled with external weights): "
        "its name,\n * looked up beside the library, or the path set "
        "before; NULL when the\n * weights are in the library. "
        "moe_model_set_weights_path names another\n * file (before the "
        "weights are loaded); moe_model_load_weights maps and\n * checks "
        "it now instead of in the first run. Both return MOE_OK or an "
        "error\n * code with a message (MOE_ERROR_WEIGHTS: missing, "
        "truncated, or from\n * another compile). */\n"
        "const char *moe_model_weights_file(void);\n"
        "int moe_model_set_weights_path(const char *path, char *error, "
        "size_t error_size);\n"
        "int moe_model_load_weights(char *error, size_t error_size);\n";
  os << "\n/* The entry functions, for callers that find them at run time "
        "(dlsym of\n * `<name>_run`): their count and the info of each. */\n"
        "int32_t moe_model_num_functions(void);\n"
        "const moe_model_info *moe_model_function_info(int32_t i);\n";
  if (entries.size() == 1)
    os << "\n/* The model's only entry point under fixed names. */\n"
          "const moe_model_info *moe_model_get_info(void);\n"
          "int moe_model_run(const moe_tensor *inputs, int32_t num_inputs,\n"
          "    moe_tensor *outputs, int32_t num_outputs, char *error, "
          "size_t error_size);\n";
  if (cuda)
    printAsyncDeclarations(os, entries);
}

void printDescriptor(llvm::raw_ostream &os, int64_t rank) {
  os << "struct moe_memref" << rank << " { void *allocated; void *aligned; "
     << "int64_t offset;";
  if (rank > 0)
    os << " int64_t sizes[" << rank << "]; int64_t strides[" << rank << "];";
  os << " };\n";
}

/// The model info tables and `<f>_info()`.
void printInfo(llvm::raw_ostream &os, const EntrySig &e) {
  const std::string &f = e.function;
  auto infoList = [&](StringRef kind, ArrayRef<TensorSig> list) {
    os << "static const moe_tensor_info " << f << "__" << kind << "[] = {\n";
    for (const TensorSig &t : list) {
      os << "  {" << cString(t.name) << ", "
         << dtypeName(t.type.getElementType()) << ", " << t.type.getRank()
         << ", {";
      for (int64_t d : t.type.getShape())
        os << (ShapedType::isDynamic(d) ? -1 : d) << ", ";
      os << "}, {";
      for (const std::string &d : t.dims)
        os << cString(d) << ", ";
      os << "}},\n";
    }
    if (list.empty())
      os << "  {0}\n";
    os << "};\n";
  };
  infoList("inputs", e.inputs);
  infoList("outputs", e.outputs);
  os << "static const moe_model_info " << f << "__model_info = {" << cString(f)
     << ", " << e.inputs.size() << ", " << e.outputs.size() << ", " << f
     << "__inputs, " << f << "__outputs};\n";
  os << "const moe_model_info *" << f << "_info(void) { return &" << f
     << "__model_info; }\n\n";
}

/// The declaration of the function's MLIR C interface: results packed
/// first, then one descriptor per input.
void printCInterface(llvm::raw_ostream &os, const EntrySig &e) {
  const std::string &f = e.function;
  if (e.outputs.size() > 1) {
    os << "struct " << f << "_results {";
    for (auto [i, t] : llvm::enumerate(e.outputs))
      os << " struct moe_memref" << t.type.getRank() << " r" << i << ";";
    os << " };\n";
  }
  os << "extern void _mlir_ciface_" << f << "(";
  SmallVector<std::string> params;
  if (e.outputs.size() == 1)
    params.push_back("struct moe_memref" +
                     std::to_string(e.outputs[0].type.getRank()) + " *");
  else if (e.outputs.size() > 1)
    params.push_back("struct " + f + "_results *");
  for (const TensorSig &t : e.inputs)
    params.push_back("struct moe_memref" + std::to_string(t.type.getRank()) +
                     " *");
  os << llvm::join(params, ", ") << ");\n\n";
}

/// `<f>_run`'s start: the input checks, the device (CUDA: inputs copied to
/// device-accessible memory) and the landing point of failed run-time
/// checks.
void printRunPrologue(llvm::raw_ostream &os, const EntrySig &e, bool cuda,
                      bool staged) {
  const std::string &f = e.function;
  if (staged)
    os << "static int " << f << "__run_async_serialized(" << kAsyncParams
       << ");\nstatic void *" << f << "__staging;\n";
  os << "static int " << f
     << "__run_serialized(const moe_tensor *inputs, int32_t num_inputs, "
     << "moe_tensor *outputs, int32_t num_outputs, char *error, size_t "
        "error_size) {\n";
  os << "  const moe_model_info *info = &" << f << "__model_info;\n";
  os << "  if (moe__check_inputs(info, inputs, num_inputs, outputs, "
        "num_outputs, error, error_size))\n    return "
        "MOE_ERROR_INVALID_ARGUMENT;\n";
  os << "  if (moe__ensure_weights(error, error_size))\n    return "
        "MOE_ERROR_WEIGHTS;\n";
  size_t numInputs = e.inputs.size();
  if (cuda) {
    printCudaAvailableCheck(os);
    // Through the asynchronous variant where the inputs give the outputs'
    // shapes: device buffers kept between calls, one CUDA graph per shape.
    if (staged)
      os << "  {\n    int rc = moe__run_staged(info, &" << f << "__staging, "
         << f
         << "__run_async_serialized, inputs, outputs, error, "
            "error_size);\n    if (rc != MOE__NOT_STAGED)\n      return rc;\n"
            "  }\n";
    // Inputs are copied to device-accessible memory; the copies are freed
    // on every path out (volatile: they change between setjmp and longjmp).
    os << "  void *volatile dev[" << std::max<size_t>(numInputs, 1)
       << "] = {0};\n";
  }
  // Failed run-time checks in the model unwind to here (errors.c).
  os << "  jmp_buf on_error;\n"
        "  if (setjmp(on_error)) {\n"
        "    moe__fail(error, error_size, \"%s\", "
     << runtime::kErrorMessage << "());\n";
  if (cuda)
    os << "    " << runtime::kCudaDrain << "();\n"
       << "    for (int32_t i = 0; i < " << numInputs << "; ++i)\n      "
       << runtime::kCudaFree << "(dev[i]);\n";
  os << "    return " << runtime::kErrorKind
     << "() == MOE_RUNTIME_OUT_OF_MEMORY ? MOE_ERROR_OUT_OF_MEMORY : "
        "MOE_ERROR_RUNTIME;\n  }\n";
  if (cuda) {
    os << "  " << runtime::kSetErrorHandler << "(&on_error);\n";
    for (auto [i, t] : llvm::enumerate(e.inputs)) {
      os << "  {\n    size_t bytes = " << dtypeBytes(t.type.getElementType())
         << ";\n    for (int32_t d = 0; d < " << t.type.getRank()
         << "; ++d)\n      bytes *= (size_t)inputs[" << i << "].shape[d];\n"
         << "    dev[" << i << "] = " << runtime::kCudaAlloc << "(bytes);\n"
         << "    if (bytes)\n      memcpy(dev[" << i << "], inputs[" << i
         << "].data, bytes);\n  }\n";
    }
  }
}

/// One memref descriptor per input (row-major strides); on the CPU the
/// input buffers, which outputs must not alias.
void printInputMemrefs(llvm::raw_ostream &os, const EntrySig &e, bool cuda) {
  size_t numInputs = e.inputs.size();
  for (auto [i, t] : llvm::enumerate(e.inputs)) {
    std::string data = cuda ? "dev[" + std::to_string(i) + "]"
                            : "inputs[" + std::to_string(i) + "].data";
    printRowMajorDescriptor(os, "in" + std::to_string(i), t.type.getRank(),
                            data,
                            "inputs[" + std::to_string(i) + "].shape");
  }
  if (!cuda) {
    os << "  void *kept[" << std::max<size_t>(numInputs, 1) << "] = {0};\n";
    for (size_t i = 0; i < numInputs; ++i)
      os << "  kept[" << i << "] = inputs[" << i << "].data;\n";
  }
}

/// The call, then each output copied out (CUDA: the device copies freed).
void printCallAndOutputs(llvm::raw_ostream &os, const EntrySig &e, bool cuda) {
  const std::string &f = e.function;
  size_t numInputs = e.inputs.size();
  SmallVector<std::string> args;
  std::string resultName;
  if (e.outputs.size() == 1) {
    os << "  struct moe_memref" << e.outputs[0].type.getRank() << " res;\n";
    args.push_back("&res");
  } else if (e.outputs.size() > 1) {
    os << "  struct " << f << "_results res;\n";
    args.push_back("&res");
  }
  for (size_t i = 0; i < e.inputs.size(); ++i)
    args.push_back("&in" + std::to_string(i));
  os << "  " << runtime::kSetErrorHandler << "(&on_error);\n";
  if (cuda)
    os << "  " << runtime::kCudaTimerStart << "();\n";
  os << "  _mlir_ciface_" << f << "(" << llvm::join(args, ", ") << ");\n";
  if (cuda)
    os << "  " << runtime::kCudaTimerStop << "();\n  moe__device_ms = "
       << runtime::kCudaTimerElapsed << ";\n";
  os << "  " << runtime::kSetErrorHandler << "(NULL);\n";
  // Outputs are copied out by one loop over tables (where each result's
  // descriptor lies in `res`, its element size), not by code per output:
  // a model with thousands of outputs would otherwise be a C function that
  // takes the C compiler minutes.
  if (!e.outputs.empty()) {
    os << "  static const size_t out_offset[] = {";
    for (size_t i = 0; i < e.outputs.size(); ++i)
      os << (e.outputs.size() == 1
                 ? std::string("0")
                 : "offsetof(struct " + f + "_results, r" + std::to_string(i) +
                       ")")
         << ", ";
    os << "};\n  static const unsigned char out_bytes[] = {";
    for (const TensorSig &t : e.outputs)
      os << dtypeBytes(t.type.getElementType()) << ", ";
    os << "};\n";
    // A descriptor is {allocated, aligned, offset, sizes[rank],
    // strides[rank]}, every field 8 bytes.
    os << "  for (int32_t i = 0; i < " << e.outputs.size() << "; ++i) {\n"
       << "    const moe_tensor_info *t = &info->outputs[i];\n"
       << "    const char *d = (const char *)&res + out_offset[i];\n"
       << "    void *allocated, *aligned;\n    int64_t offset;\n"
       << "    memcpy(&allocated, d, sizeof(void *));\n"
       << "    memcpy(&aligned, d + 8, sizeof(void *));\n"
       << "    memcpy(&offset, d + 16, sizeof(int64_t));\n"
       << "    const int64_t *sizes = (const int64_t *)(d + 24);\n"
       << "    if (moe__take_output(&outputs[i], t->dtype, out_bytes[i], "
          "t->rank, allocated, aligned, offset, sizes, sizes + t->rank, "
       << (cuda ? "(void **)dev" : "kept") << ", num_inputs, "
       << (cuda ? runtime::kCudaFree : "free") << ", error, error_size)) {\n";
    if (cuda)
      os << "      for (int32_t k = 0; k < " << numInputs << "; ++k)\n        "
         << runtime::kCudaFree << "(dev[k]);\n";
    os << "      return MOE_ERROR_OUT_OF_MEMORY;\n    }\n  }\n";
  }
  if (cuda)
    os << "  for (int32_t i = 0; i < " << numInputs << "; ++i)\n    "
       << runtime::kCudaFree << "(dev[i]);\n";
  os << "  return MOE_OK;\n}\n";
}

/// `<f>_run`: the call under the runtime's call lock (one per model
/// library), which every path out of the body releases.
void printSerializedRun(llvm::raw_ostream &os, const EntrySig &e) {
  printSerializedCall(
      os, e.function + "_run",
      "const moe_tensor *inputs, int32_t num_inputs, moe_tensor *outputs, "
      "int32_t num_outputs, char *error, size_t error_size",
      e.function + "__run_serialized",
      "inputs, num_inputs, outputs, num_outputs, error, error_size");
}

void printEntry(llvm::raw_ostream &os, const EntrySig &e, bool cuda,
                bool staged) {
  printInfo(os, e);
  printCInterface(os, e);
  printRunPrologue(os, e, cuda, staged);
  printInputMemrefs(os, e, cuda);
  printCallAndOutputs(os, e, cuda);
  printSerializedRun(os, e);
}

/// The weights file's loading (moe-externalize-weights moved the weights):
/// mapped on the first run, or on moe_model_load_weights, from the path
/// set by moe_model_set_weights_path or beside the library. Every model
/// defines the functions; for embedded weights they do nothing.
void printWeights(llvm::raw_ostream &os, ModuleOp module) {
  auto info = module->getAttrOfType<DictionaryAttr>(moe::kWeightsAttr);
  auto file = info ? info.getAs<StringAttr>("file") : StringAttr();
  if (!file) {
    os << R"c(
static int moe__ensure_weights(char *error, size_t error_size) {
  (void)error;
  (void)error_size;
  return MOE_OK;
}
const char *moe_model_weights_file(void) { return NULL; }
int moe_model_set_weights_path(const char *path, char *error,
                               size_t error_size) {
  (void)path;
  moe__fail(error, error_size, "the model's weights are in the library "
            "(it was compiled with weights=embed, or they are below "
            "weights-threshold-mb)");
  return MOE_ERROR_INVALID_ARGUMENT;
}
int moe_model_load_weights(char *error, size_t error_size) {
  (void)error;
  (void)error_size;
  return MOE_OK;
}
)c";
    return;
  }
  uint64_t size = info.getAs<IntegerAttr>("size").getInt();
  uint64_t hash = info.getAs<IntegerAttr>("hash").getInt();
  os << "\nextern const void *" << moe::kWeightsBaseSymbol
     << " __attribute__((visibility(\"hidden\")));\n"
     << "static const char moe__weights_name[] = " << cString(file.getValue())
     << ";\n"
     << "#define MOE__WEIGHTS_SIZE " << size << "ull\n"
     << "#define MOE__WEIGHTS_HASH 0x" << llvm::utohexstr(hash) << "ull\n"
     << "#define MOE__WEIGHTS_BASE " << moe::kWeightsBaseSymbol << "\n"
     << "#define MOE__MAP_WEIGHTS " << runtime::kMapWeights << "\n";
  os << R"c(static char *moe__weights_path; /* set by the caller, or NULL */

/* Called with the model's call lock held. */
static int moe__ensure_weights(char *error, size_t error_size) {
  if (MOE__WEIGHTS_BASE)
    return MOE_OK;
  char path[4096];
  Dl_info self;
  const char *lib = dladdr((void *)&moe__ensure_weights, &self) &&
                            self.dli_fname ? self.dli_fname : "";
  const char *slash = strrchr(lib, '/');
  if (moe__weights_path)
    snprintf(path, sizeof(path), "%s", moe__weights_path);
  else if (slash)
    snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - lib), lib,
             moe__weights_name);
  else
    snprintf(path, sizeof(path), "%s", moe__weights_name);
  char why[768];
  const void *base = MOE__MAP_WEIGHTS(path, MOE__WEIGHTS_SIZE,
                                      MOE__WEIGHTS_HASH, why, sizeof(why));
  if (!base) {
    moe__fail(error, error_size, "%s", why);
    return MOE_ERROR_WEIGHTS;
  }
  MOE__WEIGHTS_BASE = base;
  return MOE_OK;
}

const char *moe_model_weights_file(void) {
  return moe__weights_path ? moe__weights_path : moe__weights_name;
}

int moe_model_set_weights_path(const char *path, char *error,
                               size_t error_size) {
  int rc = MOE_OK;
  moe_runtime_call_begin();
  if (MOE__WEIGHTS_BASE) {
    moe__fail(error, error_size, "the weights are already loaded (set the "
              "path before the first run or moe_model_load_weights)");
    rc = MOE_ERROR_INVALID_ARGUMENT;
  } else if (!path || !*path) {
    moe__fail(error, error_size, "the weights path is empty");
    rc = MOE_ERROR_INVALID_ARGUMENT;
  } else {
    char *copy = strdup(path);
    if (!copy) {
      moe__fail(error, error_size, "out of memory");
      rc = MOE_ERROR_OUT_OF_MEMORY;
    } else {
      free(moe__weights_path);
      moe__weights_path = copy;
    }
  }
  moe_runtime_call_end();
  return rc;
}

int moe_model_load_weights(char *error, size_t error_size) {
  moe_runtime_call_begin();
  int rc = moe__ensure_weights(error, error_size);
  moe_runtime_call_end();
  return rc;
}
)c";
}

/// Shared helpers of every entry point: input checks and output copies.
constexpr const char *kHelpers = R"c(
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device time of the last call (CUDA models), in milliseconds: measured
 * when asked for, so that a call does not wait for its timer. */
static double (*moe__device_ms)(void);
double moe_model_last_device_ms(void) {
  return moe__device_ms ? moe__device_ms() : 0;
}

static void moe__fail(char *error, size_t error_size, const char *fmt, ...) {
  if (!error || !error_size)
    return;
  va_list args;
  va_start(args, fmt);
  vsnprintf(error, error_size, fmt, args);
  va_end(args);
}

static const char *moe__dtype_name(moe_dtype t) {
  static const char *names[] = {"f32", "f16", "bf16", "i32",
                                "i64", "bool", "i8",   "i16"};
  return (unsigned)t < 8 ? names[t] : "unknown";
}

static int moe__check_inputs(const moe_model_info *info, const moe_tensor *in,
                            int32_t num_in, const moe_tensor *out,
                            int32_t num_out, char *error, size_t error_size) {
  if (num_in != info->num_inputs) {
    moe__fail(error, error_size, "%s takes %d inputs, got %d", info->name,
             info->num_inputs, num_in);
    return 1;
  }
  if (num_in && !in) {
    moe__fail(error, error_size, "%s: inputs is NULL (%d tensors expected)",
             info->name, num_in);
    return 1;
  }
  if (num_out != info->num_outputs) {
    moe__fail(error, error_size, "%s produces %d outputs, room for %d given",
             info->name, info->num_outputs, num_out);
    return 1;
  }
  if (num_out && !out) {
    moe__fail(error, error_size, "%s: outputs is NULL (room for %d tensors "
             "expected)", info->name, num_out);
    return 1;
  }
  for (int32_t i = 0; i < num_in; ++i) {
    const moe_tensor_info *want = &info->inputs[i];
    const moe_tensor *got = &in[i];
    if (got->dtype != want->dtype) {
      moe__fail(error, error_size, "input '%s' must be %s, got %s", want->name,
               moe__dtype_name(want->dtype), moe__dtype_name(got->dtype));
      return 1;
    }
    if (got->rank != want->rank) {
      moe__fail(error, error_size, "input '%s' must have rank %d, got %d",
               want->name, want->rank, got->rank);
      return 1;
    }
    int64_t count = 1;
    for (int32_t d = 0; d < want->rank; ++d) {
      int64_t size = got->shape[d];
      if (size < 0) {
        moe__fail(error, error_size,
                 "input '%s' dimension %d is negative (%lld)", want->name, d,
                 (long long)size);
        return 1;
      }
      if (want->shape[d] >= 0 && size != want->shape[d]) {
        moe__fail(error, error_size,
                 "input '%s' dimension %d must be %lld, got %lld", want->name,
                 d, (long long)want->shape[d], (long long)size);
        return 1;
      }
      count *= size;
      /* Equal dim_param names must have equal sizes. */
      if (!want->dims[d] || !want->dims[d][0])
        continue;
      for (int32_t j = 0; j <= i; ++j)
        for (int32_t e = 0; e < info->inputs[j].rank; ++e) {
          if ((j == i && e >= d) || !info->inputs[j].dims[e] ||
              strcmp(info->inputs[j].dims[e], want->dims[d]) != 0)
            continue;
          if (in[j].shape[e] != size) {
            moe__fail(error, error_size,
                     "input '%s' dimension %d (%s) is %lld, but input '%s' "
                     "has %s = %lld",
                     want->name, d, want->dims[d], (long long)size,
                     info->inputs[j].name, want->dims[d],
                     (long long)in[j].shape[e]);
            return 1;
          }
        }
    }
    if (count && !got->data) {
      moe__fail(error, error_size, "input '%s' has no data", want->name);
      return 1;
    }
  }
  return 0;
}

/* Buffers of constant globals carry this marker in generated code. */
#define MOE_GLOBAL_MARKER ((void *)(uintptr_t)0xdeadbeef)

static int moe__take_output(moe_tensor *out, moe_dtype dtype, size_t bytes,
                           int32_t rank, void *allocated, void *aligned,
                           int64_t offset, const int64_t *sizes,
                           const int64_t *strides, void *const *inputs,
                           int32_t num_inputs, void (*release)(void *),
                           char *error, size_t error_size) {
  int64_t count = 1;
  for (int32_t d = 0; d < rank; ++d)
    count *= sizes[d];
  void *data = malloc(count ? (size_t)count * bytes : 1);
  if (!data) {
    moe__fail(error, error_size, "out of memory for an output");
    return 1;
  }
  /* Row-major copy through the result's strides. */
  int64_t index[MOE_MAX_RANK] = {0};
  const char *base = (const char *)aligned + offset * (int64_t)bytes;
  for (int64_t n = 0; n < count; ++n) {
    int64_t at = 0;
    for (int32_t d = 0; d < rank; ++d)
      at += index[d] * strides[d];
    memcpy((char *)data + n * bytes, base + at * (int64_t)bytes, bytes);
    for (int32_t d = rank - 1; d >= 0 && ++index[d] == sizes[d]; --d)
      index[d] = 0;
  }
  /* Results may alias a constant or an input buffer; those are not ours. */
  int owned = allocated != MOE_GLOBAL_MARKER;
  for (int32_t i = 0; i < num_inputs; ++i)
    owned &= allocated != inputs[i];
  if (owned)
    release(allocated);
  out->data = data;
  out->dtype = dtype;
  out->rank = rank;
  for (int32_t d = 0; d < MOE_MAX_RANK; ++d)
    out->shape[d] = d < rank ? sizes[d] : 0;
  return 0;
}
)c";
} // namespace

FailureOr<std::string> mlir::moe::detail::generateHeader(ModuleOp module) {
  auto entries = collectEntries(module);
  if (failed(entries))
    return failure();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* Generated by moe-opt: the C entry points of a compiled model. */\n"
        "#ifndef MOE_MODEL_H\n#define MOE_MODEL_H\n"
     << kABITypes << "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
  printDeclarations(os, *entries, isCUDAModel(module));
  os << "\n#ifdef __cplusplus\n}\n#endif\n#endif /* MOE_MODEL_H */\n";
  return text;
}

FailureOr<std::string> mlir::moe::detail::generateEntrySource(ModuleOp module) {
  auto entries = collectEntries(module);
  if (failed(entries))
    return failure();
  std::string text;
  llvm::raw_string_ostream os(text);
  // _GNU_SOURCE first, for dladdr (finding the weights beside the library).
  os << "/* Generated by moe-opt: C entry points over _mlir_ciface_*. */\n"
     << "#define _GNU_SOURCE\n#include <dlfcn.h>\n"
     << kABITypes << kRuntimeHeaders << kHelpers << "\n";
  printWeights(os, module);
  SmallVector<int64_t> ranks;
  for (const EntrySig &e : *entries)
    for (const TensorSig &t :
         llvm::concat<const TensorSig>(e.inputs, e.outputs))
      if (!llvm::is_contained(ranks, t.type.getRank()))
        ranks.push_back(t.type.getRank());
  for (int64_t r : ranks)
    printDescriptor(os, r);
  bool cuda = isCUDAModel(module);
  if (cuda)
    printAsyncHelpers(os);
  for (const EntrySig &e : *entries)
    printEntry(
        os, e, cuda,
        cuda && module.lookupSymbol(e.function + moe::kAsyncEntrySuffix.str()));
  if (cuda) {
    for (const EntrySig &e : *entries)
      printAsyncEntry(os, e, module);
    if (entries->size() == 1)
      printAsyncSingleEntry(os, entries->front());
  }
  os << "\nconst char *moe_model_device(void) { return \""
     << (cuda ? "cuda" : "cpu") << "\"; }\n";
  os << "\nvoid moe_model_set_num_threads(int32_t n) { "
     << runtime::kSetNumThreads << "(n); }\n";
  os << "\nstatic const moe_model_info *const moe__functions[] = {";
  for (const EntrySig &e : *entries)
    os << "&" << e.function << "__model_info, ";
  os << "};\nint32_t moe_model_num_functions(void) { return "
     << entries->size()
     << "; }\nconst moe_model_info *moe_model_function_info(int32_t i) {\n"
        "  return i >= 0 && i < "
     << entries->size() << " ? moe__functions[i] : NULL;\n}\n";
  if (entries->size() == 1) {
    const std::string &f = entries->front().function;
    os << "\nconst moe_model_info *moe_model_get_info(void) { return " << f
       << "_info(); }\n"
       << "int moe_model_run(const moe_tensor *inputs, int32_t num_inputs, "
          "moe_tensor *outputs, int32_t num_outputs, char *error, size_t "
          "error_size) {\n  return "
       << f
       << "_run(inputs, num_inputs, outputs, num_outputs, error, "
          "error_size);\n}\n";
  }
  return text;
}
