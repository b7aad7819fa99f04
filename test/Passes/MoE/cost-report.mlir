// RUN: moe-opt %s --moe-cost-report="fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s
// RUN: moe-opt %s --moe-cost-report -o /dev/null | FileCheck %s --check-prefix=FUSED
// RUN: moe-opt %s --moe-cost-report="fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s --check-prefix=PARTIAL
// RUN: moe-opt %s --moe-cost-report="device=cpu tokens=64 cpu-gflops=200 cpu-gbps=40 expert-counts=128,0,0,0,0,0,0,0" -o /dev/null | FileCheck %s --check-prefix=CPU
// RUN: moe-opt %s --moe-decompose --moe-expert-parallel="ranks=2" --moe-cost-report="device=a100" -o /dev/null | FileCheck %s --check-prefix=EP
// RUN: not moe-opt %s --moe-cost-report="device=tpu" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: moe-opt %s --moe-cost-report | FileCheck %s --check-prefix=IR

// H100, 256 tokens, uniform routing over 8 experts (all active), rows padded
// to 64 per expert: 512 rows. fc1: 2 * 512 * 256 * 64 FLOP = 16.777 MFLOP,
// reading the rows (512 * 64 * 4 B) and all 8 experts' weights
// (8 * 256 * 64 * 4 B): 0.655 MB; with every fusion off, 12 kernels as the
// CUDA pipeline launches them (cost-report-launches.mlir checks the counts
// against the pipeline).
// CHECK: moe cost report: H100 SXM (989 TFLOP/s f16/bf16 GEMMs, 67.0 TFLOP/s otherwise, 3350 GB/s), dynamic dims = 256, routing: uniform, dispatch block 16
// CHECK: @moe_block:
// CHECK-NEXT: # kernel launches MFLOP MB read MB written roofline us bound
// CHECK-NEXT: 1 route (scores, top-k) 1 0.016 0.008 0.004
// CHECK-NEXT: 2 routing plan (counts, offsets, placement) 4
// CHECK-NEXT: 3 gather token copies by expert 1 0.000 0.133 0.131
// CHECK-NEXT: 4 grouped GEMM 256x64 1 16.777 0.655 0.524 0.35 memory
// CHECK-NEXT: 5 activation 1 0.524 0.524 0.262
// CHECK-NEXT: 6 grouped GEMM 64x128 1 8.389 0.524 0.131
// CHECK-NEXT: 7 combine (weighted un-permute and sum) 3
// CHECK-NEXT: total: 12 kernels, 25.773 MFLOP, 3.105 MB moved, roofline 0.93 us
// CHECK-NEXT: MoE layers: 1; before fusion: 12 kernels, 3.105 MB, 0.93 us; as scheduled: 12 kernels, 3.105 MB, 0.93 us
// CHECK-NEXT: with every MoE fusion ({{.*}}): 3 kernels, 1.663 MB, 0.50 us (1.442 MB less than before fusion)

// As the CUDA pipeline schedules it by default: routing with its plan in one
// kernel; the first GEMM reads the tokens through the slots (no gather
// kernel, no grouped copy) and applies the SwiGLU in its epilogue, writing
// [512, 128] instead of [512, 256]; the second adds its weighted rows
// (512 x 64 x 4 B) into the output, zeroed by the copy engine first, and
// reads the weights and slots: no [512, 64] rows, no combine kernels.
// FUSED: 1 routing + plan (scores, top-k, placement) 1
// FUSED-NEXT: 2 grouped GEMM 256x64 gathered + silu gated 1 16.777 0.655 0.262
// FUSED-NEXT: 3 fill (copy engine) 0 0.000 0.000 0.066
// FUSED-NEXT: 4 grouped GEMM 64x128 + combine 1 8.389 0.528 0.131
// FUSED-NEXT: total: 3 kernels, 25.183 MFLOP, 1.663 MB moved
// FUSED-NEXT: MoE layers: 1; before fusion: 12 kernels, 3.105 MB, 0.93 us; as scheduled: 3 kernels, 1.663 MB, 0.50 us
// FUSED-NEXT: with every MoE fusion ({{.*}}): 3 kernels, 1.663 MB
// PARTIAL: 2 routing plan (counts, offsets, placement) 4
// PARTIAL: total: 10 kernels, 25.249 MFLOP, 1.792 MB moved

// The host CPU with its peak figures; every copy routed to expert 0 (given
// counts): one active expert, 128 rows, one expert's weights read. The CPU
// keeps the combine apart (moe-fuse-combine is the GPU's).
// CPU: moe cost report: host CPU (200 GFLOP/s, 40 GB/s), dynamic dims = 64, routing: given expert counts, dispatch block 1
// CPU: 1 routing + plan (scores, top-k, placement) 1
// CPU: 2 grouped GEMM 256x64 gathered + silu gated 1 4.194 0.098 0.066
// CPU: 4 combine (weighted un-permute and sum) 1
// CPU: total: 4 kernels
// CPU: before fusion: 7 kernels

// An expert-parallel program lists its exchanges (bytes over NVLink).
// EP: moe cost report: A100 SXM 80GB
// EP: all-to-all exchange 0 0.000 0.131 0.131 {{[0-9.]+}} link
// EP: all-to-all exchange 0
// EP: all-to-all exchange 0
// EP: MoE layers: 1;

// BAD: error: moe-cost-report: unknown device 'tpu' (h100, h200, a100 or cpu)

// The IR is unchanged.
// IR: moe.layer
// IR-NOT: moe.route
func.func @moe_block(%hidden: tensor<?x64xf32>, %router_logits: tensor<?x8xf32>,
                     %fc1: tensor<8x256x64xf32>, %fc2: tensor<8x64x128xf32>)
    -> tensor<?x64xf32> {
  %out = moe.layer %hidden : tensor<?x64xf32>
      logits(%router_logits : tensor<?x8xf32>)
      fc1(%fc1 : tensor<8x256x64xf32>)
      fc2(%fc2 : tensor<8x64x128xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x64xf32>
  return %out : tensor<?x64xf32>
}
