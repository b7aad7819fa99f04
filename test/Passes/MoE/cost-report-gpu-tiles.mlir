// RUN: moe-opt %s --moe-cost-report="tokens=1" -o /dev/null | FileCheck %s --check-prefix=DECODE
// RUN: moe-opt %s --moe-cost-report="tokens=1284 expert-counts=321,321,321,321,321,321,321,321" -o /dev/null | FileCheck %s --check-prefix=PREFILL
// RUN: moe-opt %s --moe-cost-report="tokens=1284 expert-counts=321,321,321,321,321,321,321,321 fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s --check-prefix=UNFUSED

// The routed experts of Mixtral-8x7B in bf16 on an H100: each grouped GEMM
// names the pipelined kernel's tile and the roofline time of the work it
// does. Decode (one token, two copies): memory-bound, the padding rows'
// products hide under the weights' streaming.
// DECODE: 2 grouped GEMM 28672x4096 gathered + silu gated 1 469.762 470.811 {{.*}} memory; tile 64x128x32 cp.async x3: 141.64 us (100% of roofline)
// DECODE: 4 grouped GEMM 4096x14336 + combine 1 234.881 {{.*}} memory; tile 64x128x32 cp.async x3: 71.52 us (100% of roofline)
// DECODE: total: 3 kernels, {{.*}} roofline 213.16 us; the generated kernels' work: 213.16 us (100% of roofline)
//
// 321 copies per expert: five full 64-row tiles and one row, whose tile
// runs one 32-row warp half: 352 rows of products for 321 useful ones
// (91%) in the compute-bound up/gate GEMM.
// PREFILL: 2 grouped GEMM 28672x4096 gathered + silu gated 1 603174.470 {{.*}} tensor cores; tile 64x128x32 cp.async x3: 668.78 us (91% of roofline)
// PREFILL: total: 3 kernels, {{.*}}; the generated kernels' work: 1006.34 us (92% of roofline)
//
// Unfused, the up/gate GEMM writes the wide [R, 28672] result: memory-bound.
// UNFUSED: grouped GEMM 28672x4096 1 603174.470 {{.*}} memory; tile 64x128x32 cp.async x3: 668.78 us (93% of roofline)
func.func @moe_block(%x: tensor<?x4096xbf16>, %logits: tensor<?x8xbf16>,
                     %fc1: tensor<8x28672x4096xbf16>, %fc2: tensor<8x4096x14336xbf16>)
    -> tensor<?x4096xbf16> {
  %out = moe.layer %x : tensor<?x4096xbf16>
      logits(%logits : tensor<?x8xbf16>)
      fc1(%fc1 : tensor<8x28672x4096xbf16>)
      fc2(%fc2 : tensor<8x4096x14336xbf16>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = interleaved> -> tensor<?x4096xbf16>
  return %out : tensor<?x4096xbf16>
}
