// The cost report's kernel count is the CUDA pipeline's: both say 14 for a
// Mixtral-style layer (route 1, plan 6, gather 1, two grouped GEMMs,
// activation 1, combine 3).
// REQUIRES: ptxas
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE
// REPORT: total: 14 kernels
// PIPELINE: {{^}}14{{$}}
