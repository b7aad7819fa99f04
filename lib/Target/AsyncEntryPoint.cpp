//===- AsyncEntryPoint.cpp - <f>_run_async of CUDA models -----------------===//
//
// The entry point for applications that hold their tensors on the device:
// the caller's device buffers in and out, work queued on the caller's
// stream, no copies and no wait (moe-gpu-async-entry builds the function it
// calls). Run-time checks that kernels make are reported after the fact,
// through moe_model_async_status.
//
//===----------------------------------------------------------------------===//

#include "EntrySignature.h"

#include "moe/Passes/GPU.h"
#include "moe/Runtime/Symbols.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::moe::detail;
namespace runtime = mlir::moe::runtime;

namespace {
constexpr const char *kParams = kAsyncParams;
constexpr const char *kArgs = "inputs, num_inputs, outputs, num_outputs, "
                              "stream, error, error_size";

/// Why `e` has no asynchronous variant, or "".
std::string whyNoVariant(const EntrySig &e, ModuleOp module) {
  // Functions are in the LLVM dialect by now.
  Operation *fn = module.lookupSymbol(e.function);
  if (module.lookupSymbol(e.function + moe::kAsyncEntrySuffix.str()))
    return "";
  auto reason =
      fn ? fn->getAttrOfType<StringAttr>(moe::kAsyncUnsupportedAttr) : nullptr;
  return reason ? reason.str()
                : "the model was compiled without it (async-entry=0)";
}
} // namespace

void mlir::moe::detail::printAsyncDeclarations(llvm::raw_ostream &os,
                                               ArrayRef<EntrySig> entries) {
  for (const EntrySig &e : entries)
    os << "\n/* " << e.function
       << "_run_async: the model on the caller's device buffers, queued on\n"
          " * `stream` (a CUstream of the model's device; NULL: the legacy "
          "default\n * stream) without copying and without waiting. "
          "inputs[i].data and\n * outputs[i].data are device pointers "
          "(cuMemAlloc, or managed memory) to\n * row-major tensors; the "
          "caller fills in each output's dtype, rank and\n * shape (what "
          "<function>_run would return for these inputs), and the model\n"
          " * writes its data once the stream gets there. Input and shape "
          "errors\n * return at once, like <function>_run; a check that the "
          "kernels make (an\n * expert id out of range) is reported by "
          "moe_model_async_status once the\n * stream has run the call. "
          "Returns MOE_ERROR_UNSUPPORTED, with the reason,\n * where the "
          "model's host code needs the device's results during a call. */\n"
       << "int " << e.function << "_run_async(" << kParams << ");\n";
  os << "\n/* The first check of a queued call (<function>_run_async) that "
        "failed since\n * the last query, once the stream has run it: "
        "MOE_ERROR_RUNTIME with its\n * message in `error`, then "
        "forgotten; MOE_OK when none failed. The outputs\n * of a call "
        "whose check failed are unspecified. */\n"
        "int moe_model_async_status(char *error, size_t error_size);\n";
  if (entries.size() == 1)
    os << "int moe_model_run_async(" << kParams << ");\n";
  os << "\n/* CUDA graphs of <function>_run_async and <function>_run "
        "(default on;\n * MOE_CUDA_GRAPHS=0 in the environment turns them "
        "off): the second call\n * with the same shapes and buffer "
        "addresses is captured into a graph,\n * later ones launch the "
        "graph. Off releases the graphs and their buffers. */\n"
        "void moe_model_set_cuda_graphs(int32_t enabled);\n";
}

void mlir::moe::detail::printAsyncHelpers(llvm::raw_ostream &os) {
  os << R"c(
/* Dimension d of output i for these inputs: static, or named like an
 * input's; -1 when the inputs do not say. */
static int64_t moe__output_size(const moe_model_info *info,
                                const moe_tensor *in, int32_t i, int32_t d) {
  const moe_tensor_info *want = &info->outputs[i];
  int64_t expected = want->shape[d];
  for (int32_t j = 0; expected < 0 && want->dims[d] && want->dims[d][0] &&
                      j < info->num_inputs; ++j)
    for (int32_t e = 0; e < info->inputs[j].rank; ++e)
      if (info->inputs[j].dims[e] &&
          !strcmp(info->inputs[j].dims[e], want->dims[d]))
        expected = in[j].shape[e];
  return expected;
}

/* The caller's output tensors against what the model produces for these
 * inputs: dtype, rank, static sizes, sizes named like an input's. */
static int moe__check_async_outputs(const moe_model_info *info,
                                    const moe_tensor *in,
                                    const moe_tensor *out, char *error,
                                    size_t error_size) {
  for (int32_t i = 0; i < info->num_outputs; ++i) {
    const moe_tensor_info *want = &info->outputs[i];
    const moe_tensor *got = &out[i];
    if (got->dtype != want->dtype || got->rank != want->rank) {
      moe__fail(error, error_size, "output '%s' must be %s of rank %d, got "
                "%s of rank %d", want->name, moe__dtype_name(want->dtype),
                want->rank, moe__dtype_name(got->dtype), got->rank);
      return 1;
    }
    int64_t count = 1;
    for (int32_t d = 0; d < want->rank; ++d) {
      int64_t size = got->shape[d], expected = moe__output_size(info, in, i, d);
      if (size < 0 || (expected >= 0 && size != expected)) {
        moe__fail(error, error_size, "output '%s' dimension %d must be %lld, "
                  "got %lld", want->name, d, (long long)expected,
                  (long long)size);
        return 1;
      }
      count *= size;
    }
    if (count && !got->data) {
      moe__fail(error, error_size, "output '%s' has no data", want->name);
      return 1;
    }
  }
  return 0;
}

void moe_model_set_cuda_graphs(int32_t enabled) {
  moe_runtime_call_begin();
  )c" << runtime::kCudaGraphSetEnabled
     << R"c((enabled);
  moe_runtime_call_end();
}

/* What moe__run_staged returns where the inputs do not give the outputs'
 * shapes: the caller runs the call eagerly. */
#define MOE__NOT_STAGED (-1)

typedef int (*moe__async_fn)(const moe_tensor *, int32_t, const moe_tensor *,
                             int32_t, void *, char *, size_t);

static size_t moe__tensor_bytes(const moe_tensor *t) {
  static const unsigned char bytes[] = {4, 2, 2, 4, 8, 1, 1, 2};
  size_t n = (unsigned)t->dtype < 8 ? bytes[t->dtype] : 1;
  for (int32_t d = 0; d < t->rank; ++d)
    n *= (size_t)t->shape[d];
  return n;
}

/* The outputs of a call that failed: none. */
static void moe__drop_outputs(moe_tensor *outputs, int32_t num_outputs) {
  for (int32_t i = 0; i < num_outputs; ++i) {
    free(outputs[i].data);
    outputs[i].data = NULL;
  }
}

/* <function>_run (checked inputs, host memory) through the asynchronous
 * variant `run_async`: the tensors in device buffers the entry function
 * keeps in *staging, one wait for the stream, outputs malloc'ed like the
 * eager path's. */
static int moe__run_staged(const moe_model_info *info, void **staging,
                           moe__async_fn run_async, const moe_tensor *inputs,
                           moe_tensor *outputs, char *error,
                           size_t error_size) {
  int32_t num_in = info->num_inputs, num_out = info->num_outputs;
  moe_tensor *dev = calloc((size_t)num_in + num_out + 1, sizeof(moe_tensor));
  if (!dev) {
    moe__fail(error, error_size, "out of memory for a call's tensors");
    return MOE_ERROR_OUT_OF_MEMORY;
  }
  moe_tensor *dev_out = dev + num_in;
  for (int32_t i = 0; i < num_out; ++i) {
    dev_out[i].dtype = info->outputs[i].dtype;
    dev_out[i].rank = info->outputs[i].rank;
    for (int32_t d = 0; d < dev_out[i].rank; ++d)
      if ((dev_out[i].shape[d] = moe__output_size(info, inputs, i, d)) < 0) {
        free(dev);
        return MOE__NOT_STAGED;
      }
  }
  for (int32_t i = 0; i < num_out; ++i)
    outputs[i].data = NULL;
  jmp_buf on_error;
  if (setjmp(on_error)) {
    moe__fail(error, error_size, "%s", )c"
     << runtime::kErrorMessage << R"c(());
    )c"
     << runtime::kCudaDrain << R"c(();
    )c"
     << runtime::kCudaStageAbort << R"c((staging);
    moe__drop_outputs(outputs, num_out);
    free(dev);
    return )c"
     << runtime::kErrorKind << R"c(() == MOE_RUNTIME_OUT_OF_MEMORY
               ? MOE_ERROR_OUT_OF_MEMORY : MOE_ERROR_RUNTIME;
  }
  )c" << runtime::kSetErrorHandler
     << R"c((&on_error);
  void *stream = )c"
     << runtime::kCudaStageBegin << R"c((staging);
  for (int32_t i = 0; i < num_in; ++i) {
    dev[i] = inputs[i];
    dev[i].data = )c"
     << runtime::kCudaStageIn << R"c((staging, i, inputs[i].data,
                                  moe__tensor_bytes(&inputs[i]));
  }
  for (int32_t i = 0; i < num_out; ++i)
    dev_out[i].data = )c"
     << runtime::kCudaStageBuffer << R"c((staging, num_in + i,
                                      moe__tensor_bytes(&dev_out[i]));
  )c" << runtime::kSetErrorHandler
     << R"c((NULL);
  int rc = run_async(dev, num_in, dev_out, num_out, stream, error, error_size);
  if (rc != MOE_OK) {
    )c"
     << runtime::kCudaStageAbort << R"c((staging);
    free(dev);
    return rc;
  }
  )c" << runtime::kSetErrorHandler
     << R"c((&on_error);
  for (int32_t i = 0; i < num_out; ++i) {
    size_t bytes = moe__tensor_bytes(&dev_out[i]);
    void *data = malloc(bytes ? bytes : 1);
    if (!data)
      )c"
     << runtime::kFailWith << R"c((MOE_RUNTIME_OUT_OF_MEMORY,
                          "out of memory for an output");
    outputs[i] = dev_out[i];
    outputs[i].data = data;
    )c"
     << runtime::kCudaStageOut << R"c((data, dev_out[i].data, bytes);
  }
  if ()c"
     << runtime::kCudaStageEnd << R"c((staging, error, error_size)) {
    moe__drop_outputs(outputs, num_out);
    rc = MOE_ERROR_RUNTIME;
  }
  )c" << runtime::kSetErrorHandler
     << R"c((NULL);
  free(dev);
  return rc;
}

int moe_model_async_status(char *error, size_t error_size) {
  return )c"
     << runtime::kCudaAsyncStatus << R"c((error, error_size) ? MOE_ERROR_RUNTIME
                                                  : MOE_OK;
}
)c";
}

void mlir::moe::detail::printAsyncEntry(llvm::raw_ostream &os,
                                        const EntrySig &e, ModuleOp module) {
  const std::string &f = e.function;
  std::string why = whyNoVariant(e, module);
  if (!why.empty()) {
    os << "int " << f << "_run_async(" << kParams << ") {\n"
       << "  (void)inputs; (void)num_inputs; (void)outputs; "
          "(void)num_outputs;\n  (void)stream;\n"
       << "  moe__fail(error, error_size, \"%s\", "
       << cString(f + " has no asynchronous entry point: " + why) << ");\n"
       << "  return MOE_ERROR_UNSUPPORTED;\n}\n";
    return;
  }
  std::string variant = f + moe::kAsyncEntrySuffix.str();
  bool capturable =
      module.lookupSymbol(variant)->hasAttr(moe::kGraphCapturableAttr);
  // The C interface: inputs, then outputs, no results.
  SmallVector<std::string> params, args;
  for (auto [i, t] : llvm::enumerate(e.inputs)) {
    params.push_back("struct moe_memref" + std::to_string(t.type.getRank()) +
                     " *");
    args.push_back("&in" + std::to_string(i));
  }
  for (auto [i, t] : llvm::enumerate(e.outputs)) {
    params.push_back("struct moe_memref" + std::to_string(t.type.getRank()) +
                     " *");
    args.push_back("&out" + std::to_string(i));
  }
  os << "extern void _mlir_ciface_" << variant << "("
     << (params.empty() ? std::string("void") : llvm::join(params, ", "))
     << ");\n\n";

  os << "static int " << f << "__run_async_serialized(" << kParams << ") {\n"
     << "  const moe_model_info *info = &" << f << "__model_info;\n"
     << "  if (moe__check_inputs(info, inputs, num_inputs, outputs, "
        "num_outputs, error, error_size) ||\n"
        "      moe__check_async_outputs(info, inputs, outputs, error, "
        "error_size))\n    return MOE_ERROR_INVALID_ARGUMENT;\n"
     << "  if (moe__ensure_weights(error, error_size))\n"
        "    return MOE_ERROR_WEIGHTS;\n";
  printCudaAvailableCheck(os);
  // A check that fails while the host queues the call unwinds here; the
  // work queued so far finishes before its buffers are reused.
  os << "  jmp_buf on_error;\n  if (setjmp(on_error)) {\n"
     << "    moe__fail(error, error_size, \"%s\", " << runtime::kErrorMessage
     << "());\n"
     << "    " << runtime::kCudaGraphAbort << "();\n"
     << "    " << runtime::kCudaDrain << "();\n"
     << "    " << runtime::kCudaAsyncAbort << "();\n"
     << "    return " << runtime::kErrorKind
     << "() == MOE_RUNTIME_OUT_OF_MEMORY ? MOE_ERROR_OUT_OF_MEMORY : "
        "MOE_ERROR_RUNTIME;\n  }\n";
  for (auto [i, t] : llvm::enumerate(e.inputs))
    printRowMajorDescriptor(os, "in" + std::to_string(i), t.type.getRank(),
                            "inputs[" + std::to_string(i) + "].data",
                            "inputs[" + std::to_string(i) + "].shape");
  for (auto [i, t] : llvm::enumerate(e.outputs))
    printRowMajorDescriptor(os, "out" + std::to_string(i), t.type.getRank(),
                            "outputs[" + std::to_string(i) + "].data",
                            "outputs[" + std::to_string(i) + "].shape");
  os << "  " << runtime::kSetErrorHandler << "(&on_error);\n"
     << "  " << runtime::kCudaAsyncBegin << "(stream);\n";
  if (capturable) {
    // Replayed from a CUDA graph when the shapes and buffers are those of
    // an earlier call (the key: one loop per list, not code per tensor,
    // for models with thousands of outputs).
    size_t words = 0;
    for (const TensorSig &t : llvm::concat<const TensorSig>(e.inputs, e.outputs))
      words += 2 + t.type.getRank();
    os << "  int64_t key[" << std::max<size_t>(words, 1) << "];\n"
       << "  size_t words = 0;\n";
    for (StringRef list : {"inputs", "outputs"})
      os << "  for (int32_t i = 0; i < num_" << list << "; ++i) {\n"
         << "    key[words++] = (int64_t)(intptr_t)" << list << "[i].data;\n"
         << "    key[words++] = " << list << "[i].rank;\n"
         << "    for (int32_t d = 0; d < " << list << "[i].rank; ++d)\n"
         << "      key[words++] = " << list << "[i].shape[d];\n  }\n";
    os << "  if (" << runtime::kCudaGraphReplay << "(&" << f
       << "__model_info, key, words * sizeof(int64_t), stream)) {\n"
       << "    moe__device_ms = " << runtime::kCudaTimerElapsed << ";\n"
       << "    " << runtime::kCudaAsyncEnd << "();\n"
       << "    " << runtime::kSetErrorHandler << "(NULL);\n"
       << "    return MOE_OK;\n  }\n";
  }
  os << "  " << runtime::kCudaTimerStart << "();\n"
     << "  _mlir_ciface_" << variant << "(" << llvm::join(args, ", ")
     << ");\n"
     << "  " << runtime::kCudaTimerStop << "();\n"
     << "  moe__device_ms = " << runtime::kCudaTimerElapsed << ";\n"
     << "  " << runtime::kCudaAsyncEnd << "();\n";
  if (capturable)
    os << "  " << runtime::kCudaGraphEnd << "();\n";
  os << "  " << runtime::kSetErrorHandler << "(NULL);\n"
     << "  return MOE_OK;\n}\n";

  printSerializedCall(os, f + "_run_async", kParams,
                      f + "__run_async_serialized", kArgs);
}

void mlir::moe::detail::printAsyncSingleEntry(llvm::raw_ostream &os,
                                              const EntrySig &e) {
  os << "int moe_model_run_async(" << kParams << ") {\n  return "
     << e.function << "_run_async(" << kArgs << ");\n}\n";
}
