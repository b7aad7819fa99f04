//===- AsyncCalls.h - moe-run --async: calls on device buffers --*- C++ -*-===//
//
// What an application holding device tensors does to call a CUDA model's
// moe_model_run_async: the driver loaded at run time, device copies of the
// inputs, device buffers for the outputs, a stream of its own.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_ASYNCCALLS_H
#define MOE_TOOLS_MOE_RUN_ASYNCCALLS_H

#include "moe/Runtime/ModelABI.h"

#include <string>
#include <vector>

namespace moe_run {

class AsyncCalls {
public:
  /// Loads the driver (as the model's runtime does: $MOE_CUDA_DRIVER or
  /// libcuda.so.1), copies `inputs` to the device, makes device buffers
  /// shaped like `outputs` and a stream. False with a message.
  bool setUp(void *model, const std::vector<moe_tensor> &inputs,
             const std::vector<moe_tensor> &outputs, std::string &error);
  /// Queues one call on the stream. False with the entry point's message.
  bool queue(std::string &error);
  /// Waits for the stream; then the status of the queued calls' checks.
  bool finish(std::string &error);
  /// The device outputs into `outputs`' host buffers.
  bool copyOut(std::vector<moe_tensor> &outputs, std::string &error);

private:
  using RunAsyncFn = int (*)(const moe_tensor *, int32_t, const moe_tensor *,
                             int32_t, void *, char *, size_t);
  using StatusFn = int (*)(char *, size_t);
  RunAsyncFn runAsync = nullptr;
  StatusFn status = nullptr;
  void *driver = nullptr;
  void *stream = nullptr;
  std::vector<moe_tensor> in, out;
};

} // namespace moe_run

#endif
