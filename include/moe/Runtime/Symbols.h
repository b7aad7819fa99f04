//===- Symbols.h - runtime functions that generated code calls --*- C++ -*-===//
//
// The names the compiler emits calls to, each taken from the runtime header
// that declares the function: renaming a function there breaks the build of
// the compiler, not the link of every compiled model.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_SYMBOLS_H
#define MOE_RUNTIME_SYMBOLS_H

#include "moe/Runtime/Allocation.h"
#include "moe/Runtime/CUDA.h"
#include "moe/Runtime/Collectives.h"
#include "moe/Runtime/Errors.h"
#include "moe/Runtime/Threads.h"
#include "moe/Runtime/Weights.h"

/// The name of runtime function `fn`, which must be declared.
#define MOE_RUNTIME_SYMBOL(fn) (static_cast<void>(&::fn), #fn)

namespace mlir::moe::runtime {
inline constexpr const char *kFail = MOE_RUNTIME_SYMBOL(moe_runtime_fail);
inline constexpr const char *kFailWith =
    MOE_RUNTIME_SYMBOL(moe_runtime_fail_with);
inline constexpr const char *kSetErrorHandler =
    MOE_RUNTIME_SYMBOL(moe_runtime_set_error_handler);
inline constexpr const char *kErrorMessage =
    MOE_RUNTIME_SYMBOL(moe_runtime_error_message);
inline constexpr const char *kMalloc = MOE_RUNTIME_SYMBOL(moe_runtime_malloc);
inline constexpr const char *kFree = MOE_RUNTIME_SYMBOL(moe_runtime_free);
inline constexpr const char *kEndAllocations =
    MOE_RUNTIME_SYMBOL(moe_runtime_end_allocations);
inline constexpr const char *kErrorKind =
    MOE_RUNTIME_SYMBOL(moe_runtime_error_kind);
inline constexpr const char *kSetNumThreads =
    MOE_RUNTIME_SYMBOL(moe_runtime_set_num_threads);
inline constexpr const char *kAllToAllStart =
    MOE_RUNTIME_SYMBOL(moe_rt_a2a_start);
inline constexpr const char *kAllToAllWait =
    MOE_RUNTIME_SYMBOL(moe_rt_a2a_wait);
inline constexpr const char *kAllToAllTake =
    MOE_RUNTIME_SYMBOL(moe_rt_a2a_take);
inline constexpr const char *kCudaAvailable =
    MOE_RUNTIME_SYMBOL(moe_cuda_available);
inline constexpr const char *kCudaAlloc = MOE_RUNTIME_SYMBOL(moe_cuda_alloc);
inline constexpr const char *kCudaFree = MOE_RUNTIME_SYMBOL(moe_cuda_free);
inline constexpr const char *kCudaDrain = MOE_RUNTIME_SYMBOL(moe_cuda_drain);
inline constexpr const char *kMapWeights =
    MOE_RUNTIME_SYMBOL(moe_runtime_map_weights);
inline constexpr const char *kCudaAsyncBegin =
    MOE_RUNTIME_SYMBOL(moe_cuda_async_begin);
inline constexpr const char *kCudaAsyncEnd =
    MOE_RUNTIME_SYMBOL(moe_cuda_async_end);
inline constexpr const char *kCudaAsyncAbort =
    MOE_RUNTIME_SYMBOL(moe_cuda_async_abort);
inline constexpr const char *kCudaCheckLater =
    MOE_RUNTIME_SYMBOL(moe_cuda_check_later);
inline constexpr const char *kCudaAsyncStatus =
    MOE_RUNTIME_SYMBOL(moe_cuda_async_status);
inline constexpr const char *kCudaGraphReplay =
    MOE_RUNTIME_SYMBOL(moe_cuda_graph_replay);
inline constexpr const char *kCudaGraphEnd =
    MOE_RUNTIME_SYMBOL(moe_cuda_graph_end);
inline constexpr const char *kCudaGraphAbort =
    MOE_RUNTIME_SYMBOL(moe_cuda_graph_abort);
inline constexpr const char *kCudaGraphSetEnabled =
    MOE_RUNTIME_SYMBOL(moe_cuda_graph_set_enabled);
inline constexpr const char *kCudaStageBegin =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_begin);
inline constexpr const char *kCudaStageIn =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_in);
inline constexpr const char *kCudaStageBuffer =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_buffer);
inline constexpr const char *kCudaStageOut =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_out);
inline constexpr const char *kCudaStageEnd =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_end);
inline constexpr const char *kCudaStageAbort =
    MOE_RUNTIME_SYMBOL(moe_cuda_stage_abort);
inline constexpr const char *kCudaConstant =
    MOE_RUNTIME_SYMBOL(moe_cuda_constant);
inline constexpr const char *kCudaTimerStart =
    MOE_RUNTIME_SYMBOL(moe_cuda_timer_start);
inline constexpr const char *kCudaTimerStop =
    MOE_RUNTIME_SYMBOL(moe_cuda_timer_stop);
inline constexpr const char *kCudaTimerElapsed =
    MOE_RUNTIME_SYMBOL(moe_cuda_timer_elapsed);
} // namespace mlir::moe::runtime

#endif // MOE_RUNTIME_SYMBOLS_H
