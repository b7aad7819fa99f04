// RUN: moe-opt %s --moe-cost-report="tokens=1" -o /dev/null | FileCheck %s --check-prefix=DECODE
// RUN: moe-opt %s --moe-cost-report="tokens=1284 expert-counts=321,321,321,321,321,321,321,321" -o /dev/null | FileCheck %s --check-prefix=PREFILL
// RUN: moe-opt %s --moe-cost-report="tokens=1284 expert-counts=321,321,321,321,321,321,321,321 fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s --check-prefix=UNFUSED
// RUN: moe-opt %s --moe-cost-report="sm=90a tokens=1284 expert-counts=321,321,321,321,321,321,321,321" -o /dev/null | FileCheck %s --check-prefix=WGMMA
// RUN: not moe-opt %s --moe-cost-report="device=cpu sm=90a" -o /dev/null 2>&1 | FileCheck %s --check-prefix=CPUSM

// The routed experts of Mixtral-8x7B in bf16 on an H100: each grouped GEMM
// names the pipelined kernel's tile the host picks at this token count,
// the copy counts from which it takes the 64- and 128-row tiles (shapes rows x columns) (the cost
// model of Utils/GemmTiles.h), and that model's time for it. Decode (one token, two
// copies): 16-row tiles, memory-bound; the down GEMM's 64 blocks fill
// half the SMs, so its L2 share (operand slices per block) nears the
// weights' streaming.
// DECODE: 2 grouped GEMM 28672x4096 gathered + silu gated 1 469.762 470.024 {{.*}} memory; tile 16x128x64 ld.global.v4 x2 (16x128, 64x128 from 128 copies, 128x128 from 513 copies): 140.58 us (100% of roofline)
// DECODE: 4 grouped GEMM 4096x14336 + combine 1 234.881 {{.*}} memory; tile 16x128x64 ld.global.v4 x2 (16x128, 64x128 from 256 copies, 128x128 from 513 copies): 72.67 us (97% of roofline)
// DECODE: total: 3 kernels, {{.*}} roofline 211.05 us; the generated kernels' work: 213.25 us (99% of roofline)
//
// 321 copies per expert: the 128-row tiles. Each block moves its 128 rows
// and 128 weight rows of K from L2: 64 FLOP per L2 byte (42.7 with 64-row
// tiles), where the tensor cores (mma.sync) need about 88 per byte of the
// H100's L2 bandwidth: the model finds the GEMMs L2-bound at about 40% of
// the roofline (27% with 64-row tiles).
// PREFILL: 2 grouped GEMM 28672x4096 gathered + silu gated 1 603174.470 {{.*}} tensor cores; tile 128x128x32 cp.async x4 (16x128, 64x128 from 128 copies, 128x128 from 513 copies): 1503.24 us (41% of roofline)
// PREFILL: total: 3 kernels, {{.*}}; the generated kernels' work: 2258.02 us (41% of roofline)
//
// Compiled for sm_90a, the 64- and 128-row tiles are wgmma kernels, and a
// 128 x 256 tile of two m64n256k16 warpgroups takes over from 1025 copies:
// 85 FLOP per L2 byte, about 54% of the roofline by the model.
// WGMMA: 2 grouped GEMM 28672x4096 gathered + silu gated 1 603174.470 {{.*}} tensor cores; tile 128x256x32 wgmma cp.async x2 (16x128, 64x128 from 128 copies, 128x128 from 513 copies, 128x256 from 1025 copies): 1127.43 us (54% of roofline)
// WGMMA: total: 3 kernels, {{.*}}; the generated kernels' work: 1694.31 us (54% of roofline)
// CPUSM: error: moe-cost-report: sm= applies to GPU devices only
//
// Unfused, the up/gate GEMM writes the wide [R, 28672] result: memory-bound.
// UNFUSED: grouped GEMM 28672x4096 1 603174.470 {{.*}} memory; tile 128x128x32 cp.async x4 (16x128, 64x128 from 128 copies, 128x128 from 513 copies): 1503.24 us (41% of roofline)
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
