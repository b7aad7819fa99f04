//===- Pipelines.h - the named end-to-end pass pipelines --------*- C++ -*-===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir {
class OpPassManager;
namespace moe {

/// Where a compiled model's weights live.
enum class WeightsPlacement { Auto, Embed, External };

/// Options shared by both pipelines: the MoE fusions, expert parallelism
/// (the module becomes one rank's program) and the overlap of its exchanges
/// with compute.
template <typename Derived>
struct MoEPipelineOptions : public PassPipelineOptions<Derived> {
  using Base = PassPipelineOptions<Derived>;
  typename Base::template Option<bool> fuseActivation{
      *this, "fuse-activation",
      llvm::cl::desc("Apply expert activations in the grouped GEMM's "
                     "epilogue (moe-fuse-expert-activation)"),
      llvm::cl::init(true)};
  typename Base::template Option<bool> fuseGather{
      *this, "fuse-gather",
      llvm::cl::desc("Read the expert GEMMs' rows from the tokens through "
                     "the routing plan (moe-fuse-dispatch-gather)"),
      llvm::cl::init(true)};
  typename Base::template Option<bool> fuseRoutingPlan{
      *this, "fuse-routing-plan",
      llvm::cl::desc("Route and build the routing plan in one step, one "
                     "kernel on the GPU (moe-fuse-routing-plan)"),
      llvm::cl::init(true)};
  typename Base::template Option<int64_t> ranks{
      *this, "ranks",
      llvm::cl::desc("Shard the experts over this many ranks (1: no expert "
                     "parallelism)"),
      llvm::cl::init(1)};
  typename Base::template Option<int64_t> rank{
      *this, "rank",
      llvm::cl::desc("The rank whose program and weights to compile "
                     "(0 <= rank < ranks)"),
      llvm::cl::init(0)};
  typename Base::template Option<std::string> placement{
      *this, "placement",
      llvm::cl::desc("Expert placement: contiguous or round-robin"),
      llvm::cl::init("contiguous")};
  typename Base::template ListOption<int64_t> expertMap{
      *this, "map",
      llvm::cl::desc("The rank of each expert (overrides placement)")};
  typename Base::template Option<int64_t> chunks{
      *this, "chunks",
      llvm::cl::desc("Token chunks pipelined through the exchanges (1: no "
                     "overlap); only with ranks > 1"),
      llvm::cl::init(1)};
  typename Base::template Option<WeightsPlacement> weights{
      *this, "weights",
      llvm::cl::desc("Where the weights go (with --emit=shared or obj)"),
      llvm::cl::values(
          clEnumValN(WeightsPlacement::Auto, "auto",
                     "external from weights-threshold-mb on, else embedded"),
          clEnumValN(WeightsPlacement::Embed, "embed", "in the library"),
          clEnumValN(WeightsPlacement::External, "external",
                     "in a weights file beside the library, mapped read-only "
                     "when the model loads")),
      llvm::cl::init(WeightsPlacement::Auto)};
  typename Base::template Option<int64_t> weightsThresholdMB{
      *this, "weights-threshold-mb",
      llvm::cl::desc("With weights=auto, the weight size (MiB) from which "
                     "they go to a weights file"),
      llvm::cl::init(256)};

  /// The moe-externalize-weights threshold in bytes (negative: embed).
  int64_t weightsThresholdBytes() const {
    switch (weights) {
    case WeightsPlacement::Embed:
      return -1;
    case WeightsPlacement::External:
      return 0;
    case WeightsPlacement::Auto:
      break;
    }
    return weightsThresholdMB < 0 ? -1 : int64_t(weightsThresholdMB) << 20;
  }
};

/// Options of --moe-cpu-pipeline.
struct CPUPipelineOptions : public MoEPipelineOptions<CPUPipelineOptions> {
  Option<bool> fuseCombine{
      *this, "fuse-combine",
      llvm::cl::desc("Apply moe-fuse-combine; the CPU then computes the "
                     "fused GEMM as its unfused steps (a check of the fused "
                     "IR, not a speedup: threads over experts would contend "
                     "for token rows)"),
      llvm::cl::init(false)};
  Option<std::string> int8Activations{
      *this, "int8-activations",
      llvm::cl::desc(
          "Quantized (QMoE) expert GEMMs of few rows (decode) quantize the "
          "activations to int8 per 32 columns and sum byte products in "
          "int32, about 1e-3 relative error: 'off' (default: f32 products), "
          "'auto' (VNNI's vpdpbusd when this CPU has AVX512-VNNI, else "
          "plain vector code), 'vnni' or 'generic' (any x86-64 target)"),
      llvm::cl::init("off")};
};

/// Options of --moe-cuda-pipeline.
struct CUDAPipelineOptions : public MoEPipelineOptions<CUDAPipelineOptions> {
  Option<std::string> sm{*this, "sm",
                         llvm::cl::desc("GPU architecture to compile for: "
                                        "80, 86, 89, 90 or 90a"),
                         llvm::cl::init("80")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit root for ptxas/fatbinary/libdevice "
                     "(default: $CUDA_HOME or /usr/local/cuda)"),
      llvm::cl::init("")};
  Option<bool> fuseCombine{
      *this, "fuse-combine",
      llvm::cl::desc("Sum the routed rows into the tokens (and a following "
                     "shared expert or residual addition) in the down "
                     "GEMM's epilogue (moe-fuse-combine)"),
      llvm::cl::init(true)};
  Option<bool> deterministic{
      *this, "deterministic",
      llvm::cl::desc("Keep results independent of the order of atomic "
                     "additions: fuse the combine only where that order "
                     "cannot matter (k <= 2, no addend)"),
      llvm::cl::init(false)};
  Option<bool> allowTF32{
      *this, "allow-tf32",
      llvm::cl::desc("Run f32 expert GEMMs on tensor cores as tf32 (about "
                     "1e-3 relative error instead of 1e-6)"),
      llvm::cl::init(false)};
  Option<bool> asyncCopies{
      *this, "async-copies",
      llvm::cl::desc("Stage 16-bit expert GEMM operands with cp.async copies "
                     "when they are 16-byte aligned (off: scalar loads, "
                     "for comparison)"),
      llvm::cl::init(true)};
  Option<int64_t> routerGemvFrom{
      *this, "router-gemv-from",
      llvm::cl::desc("Tokens from which a fused router's logits run as a "
                     "block per dot product before the routing kernel (-1: "
                     "the cost model's choice for the target; 0: never)"),
      llvm::cl::init(-1)};
  Option<int64_t> routerGemmFrom{
      *this, "router-gemm-from",
      llvm::cl::desc("Tokens from which a fused router's logits run as a "
                     "tensor-core GEMM before the routing kernel (-1: the "
                     "cost model's choice for the target; 0: never)"),
      llvm::cl::init(-1)};
  Option<bool> failOnSpills{
      *this, "fail-on-spills",
      llvm::cl::desc("Fail when ptxas reports register spills"),
      llvm::cl::init(false)};
  Option<bool> emulator{
      *this, "emulator",
      llvm::cl::desc("Also embed the kernels compiled for the host, so the "
                     "model runs under the CUDA emulator (moe-run --device "
                     "cuda-emulator)"),
      llvm::cl::init(true)};
  Option<bool> asyncEntry{
      *this, "async-entry",
      llvm::cl::desc("Also generate <function>_run_async, which runs on the "
                     "caller's device buffers and CUDA stream without "
                     "copying or waiting"),
      llvm::cl::init(true)};
};

/// The raising of an imported model's MoE blocks to moe.layer
/// (`--moe-import-pipeline`); moe-opt runs it after every ONNX import, and
/// both compile pipelines start with it.
void buildImportPipeline(OpPassManager &pm);

/// ONNX-imported or moe-dialect IR -> LLVM dialect for the host CPU: dense
/// onnx ops to core dialects, moe ops to linalg (reference lowering),
/// bufferization, loops, and the LLVM conversions. Every function gets a C
/// interface wrapper (`_mlir_ciface_<name>`) taking memref descriptors.
/// With `ranks > 1`, the program of one rank of an expert-parallel model.
void buildCPUPipeline(OpPassManager &pm,
                      const CPUPipelineOptions &options = {});

/// ONNX-imported or moe-dialect IR -> LLVM dialect host code with embedded
/// CUDA kernels (cubin + PTX) for the chosen GPU architecture.
void buildCUDAPipeline(OpPassManager &pm, const CUDAPipelineOptions &options);

/// Registers `--moe-import-pipeline`, `--moe-cpu-pipeline` and
/// `--moe-cuda-pipeline` with moe-opt's pass registry.
void registerPipelines();

} // namespace moe
} // namespace mlir

#endif // MOE_PIPELINES_PIPELINES_H
