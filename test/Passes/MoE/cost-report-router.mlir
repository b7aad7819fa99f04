// RUN: moe-opt %s --moe-cost-report="tokens=1" -o /dev/null | FileCheck %s --check-prefix=DECODE
// RUN: moe-opt %s --moe-cost-report="tokens=64" -o /dev/null | FileCheck %s --check-prefix=GEMM
// RUN: moe-opt %s --moe-cost-report="tokens=64 device=cpu" -o /dev/null | FileCheck %s --check-prefix=CPU

// A DeepSeek-V3-shaped fused router (256 experts, hidden 7168, bf16) on an
// H100: the CUDA pipeline's logits by token count (the model
// moe-gpu-route-plan uses). One token: the dot-product routing kernel, one
// launch whose blocks read the 3.67 MB gate once and whose logits (1 KB)
// go through memory to the token's last block. 64 tokens: the tensor-core
// GEMM, a kernel before the routing kernel. The CPU keeps one routing loop
// with the router matmul.
// DECODE: 1 routing + plan (router dot products over blocks, top-k, placement) 1 3.672 3.686 0.004 1.10 memory
// DECODE: total: 1 kernels
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
