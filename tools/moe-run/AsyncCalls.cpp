//===- AsyncCalls.cpp - moe-run --async: calls on device buffers ----------===//
//
// The driver entry points an application needs, declared here as the
// runtime does (no CUDA header where moe-run is built).
//
//===----------------------------------------------------------------------===//

#include "AsyncCalls.h"
#include "Npy.h"

#include <cstdlib>
#include <dlfcn.h>

using namespace moe_run;

namespace {
using CUresult = int;
using Ptr = unsigned long long;

template <typename F> bool find(void *library, const char *name, F &out) {
  out = reinterpret_cast<F>(dlsym(library, name));
  return out != nullptr;
}

size_t bytesOf(const moe_tensor &t) {
  size_t n = dtypeBytes(t.dtype);
  for (int32_t d = 0; d < t.rank; ++d)
    n *= static_cast<size_t>(t.shape[d]);
  return n;
}

CUresult (*memAlloc)(Ptr *, size_t);
CUresult (*copyToDevice)(Ptr, const void *, size_t);
CUresult (*copyToHost)(void *, Ptr, size_t);
CUresult (*synchronize)(void *);
} // namespace

bool AsyncCalls::setUp(void *model, const std::vector<moe_tensor> &inputs,
                       const std::vector<moe_tensor> &outputs,
                       std::string &error) {
  if (!find(model, "moe_model_run_async", runAsync) ||
      !find(model, "moe_model_async_status", status)) {
    error = "--async: the model has no moe_model_run_async (a CPU model, or "
            "one with several entry functions)";
    return false;
  }
  const char *name = std::getenv("MOE_CUDA_DRIVER");
  driver = dlopen(name && *name ? name : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  CUresult (*init)(unsigned);
  CUresult (*deviceGet)(int *, int);
  CUresult (*retain)(void **, int);
  CUresult (*setCurrent)(void *);
  CUresult (*streamCreate)(void **, unsigned);
  if (!driver || !find(driver, "cuInit", init) ||
      !find(driver, "cuDeviceGet", deviceGet) ||
      !find(driver, "cuDevicePrimaryCtxRetain", retain) ||
      !find(driver, "cuCtxSetCurrent", setCurrent) ||
      !find(driver, "cuStreamCreate", streamCreate) ||
      !find(driver, "cuMemAlloc_v2", memAlloc) ||
      !find(driver, "cuMemcpyHtoD_v2", copyToDevice) ||
      !find(driver, "cuMemcpyDtoH_v2", copyToHost) ||
      !find(driver, "cuStreamSynchronize", synchronize)) {
    error = "--async: cannot load the CUDA driver's entry points";
    return false;
  }
  const char *device = std::getenv("MOE_CUDA_DEVICE");
  int ordinal = device ? std::atoi(device) : 0, handle = 0;
  void *context = nullptr;
  // Non-blocking: like an application's stream, unordered with the
  // legacy default stream.
  if (init(0) || deviceGet(&handle, ordinal) || retain(&context, handle) ||
      setCurrent(context) || streamCreate(&stream, 1)) {
    error = "--async: cannot set up the CUDA device and a stream";
    return false;
  }
  auto deviceCopy = [&](const moe_tensor &t, bool copy, moe_tensor &d) {
    d = t;
    Ptr p = 0;
    size_t bytes = bytesOf(t);
    if (memAlloc(&p, bytes ? bytes : 1) ||
        (copy && bytes && copyToDevice(p, t.data, bytes)))
      return false;
    d.data = reinterpret_cast<void *>(p);
    return true;
  };
  in.resize(inputs.size());
  out.resize(outputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!deviceCopy(inputs[i], true, in[i])) {
      error = "--async: cannot copy the inputs to the device";
      return false;
    }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!deviceCopy(outputs[i], false, out[i])) {
      error = "--async: cannot allocate the outputs on the device";
      return false;
    }
  return true;
}

bool AsyncCalls::queue(std::string &error) {
  char message[512] = "";
  if (runAsync(in.data(), static_cast<int32_t>(in.size()), out.data(),
               static_cast<int32_t>(out.size()), stream, message,
               sizeof(message)) == MOE_OK)
    return true;
  error = message;
  return false;
}

bool AsyncCalls::finish(std::string &error) {
  if (synchronize(stream)) {
    error = "--async: cuStreamSynchronize failed";
    return false;
  }
  char message[512] = "";
  if (status(message, sizeof(message)) == MOE_OK)
    return true;
  error = message;
  return false;
}

bool AsyncCalls::copyOut(std::vector<moe_tensor> &outputs,
                         std::string &error) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    size_t bytes = bytesOf(outputs[i]);
    if (bytes && copyToHost(outputs[i].data,
                            reinterpret_cast<Ptr>(out[i].data), bytes)) {
      error = "--async: cannot copy the outputs back";
      return false;
    }
  }
  return true;
}
