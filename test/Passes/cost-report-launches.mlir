// The cost report's kernel count is the CUDA pipeline's: both say 12 for a
// Mixtral-style layer (route 1, plan 6, two grouped GEMMs, the first reading
// the tokens through the plan with the activation in its epilogue, combine
// 3), 14 without the fusions (a gather kernel, an activation kernel).
// REQUIRES: ptxas
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report="fuse-activation=0 fuse-gather=0" -o /dev/null | FileCheck %s --check-prefix=REPORT-UNFUSED
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root fuse-activation=0 fuse-gather=0" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE-UNFUSED
// REPORT: total: 12 kernels
// PIPELINE: {{^}}12{{$}}
// REPORT-UNFUSED: total: 14 kernels
// PIPELINE-UNFUSED: {{^}}14{{$}}
