// The cost report's kernel count is the CUDA pipeline's: 3 for a
// Mixtral-style layer with every fusion (routing with its plan, the up/gate
// GEMM reading the tokens through the plan with the activation in its
// epilogue, the down GEMM adding into the tokens' rows), 10 without the
// routing-plan and combine fusions (route 1, plan 4, two GEMMs, combine 3),
// 12 with none (a gather kernel, an activation kernel). (async-entry=0:
// the variant on the caller's buffers would launch them all again.)
// REQUIRES: ptxas
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root async-entry=0" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report="fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s --check-prefix=REPORT-PARTIAL
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root async-entry=0 fuse-routing-plan=0 fuse-combine=0" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE-PARTIAL
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cost-report="fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" -o /dev/null | FileCheck %s --check-prefix=REPORT-UNFUSED
// RUN: moe-opt %moe_src/examples/moe_layer.mlir --moe-cuda-pipeline="sm=80 toolkit=%cuda_root async-entry=0 fuse-activation=0 fuse-gather=0 fuse-routing-plan=0 fuse-combine=0" | grep -c "gpu.launch_func" | FileCheck %s --check-prefix=PIPELINE-UNFUSED
// REPORT: total: 3 kernels
// PIPELINE: {{^}}3{{$}}
// REPORT-PARTIAL: total: 10 kernels
// PIPELINE-PARTIAL: {{^}}10{{$}}
// REPORT-UNFUSED: total: 12 kernels
// PIPELINE-UNFUSED: {{^}}12{{$}}
