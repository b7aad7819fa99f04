// RUN: moe-opt %s --moe-cost-report="tokens=1" -o /dev/null | FileCheck %s --check-prefix=DECODE
// RUN: moe-opt %s --moe-cost-report="tokens=64" -o /dev/null | FileCheck %s --check-prefix=GEMM
// RUN: moe-opt %s --moe-cost-report="tokens=64 device=cpu" -o /dev/null | FileCheck %s --check-prefix=CPU

// A DeepSeek-V3-shaped fused router (256 experts, hidden 7168, bf16) on an
// H100: the CUDA pipeline computes the logits before the routing kernel,
// by token count (the model moe-gpu-route-plan uses). One token: a block
// per (token, expert) dot product, reading the 3.67 MB gate once; the
// routing kernel then reads 1 KB of logits. 64 tokens: the tensor-core
// GEMM. The CPU keeps one routing loop with the router matmul.
// DECODE: 1 router logits (a block per dot product) 1 3.670 3.684 0.001 1.10 memory
// DECODE-NEXT: 2 routing + plan (top-k, placement) 1
// DECODE: total: 2 kernels
// GEMM: 1 router logits (tensor-core GEMM) 1 234.881 4.588 0.066
// GEMM-NEXT: 2 routing + plan (top-k, placement) 1
// CPU-NOT: router logits
// CPU: routing + plan (router matmul, top-k, placement)
func.func @router(%x: tensor<?x7168xbf16>, %wg: tensor<256x7168xbf16>)
    -> (tensor<?x8xbf16>, tensor<257xi32>, tensor<?xi32>) {
  %w, %off, %slots = moe.route_plan %x gate(%wg) routing <softmax, k = 8, renormalize> block = 16
      : (tensor<?x7168xbf16>, tensor<256x7168xbf16>) -> (tensor<?x8xbf16>, tensor<257xi32>, tensor<?xi32>)
  return %w, %off, %slots : tensor<?x8xbf16>, tensor<257xi32>, tensor<?xi32>
}
