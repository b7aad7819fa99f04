// RUN: moe-opt %s | moe-opt | FileCheck %s
// Attribute syntax: defaults are elided, every setting survives a round trip,
// and floats print in their shortest exact form.

// CHECK-LABEL: func.func private @routing
// CHECK-SAME: a = #moe.routing<softmax, k = 2>
// CHECK-SAME: b = #moe.routing<softmax, k = 2, renormalize>
// CHECK-SAME: c = #moe.routing<sigmoid, k = 8, renormalize, groups = 8, topk_groups = 4, scale = 2.5>
// CHECK-SAME: d = #moe.routing<sigmoid, k = 6, groups = 8, topk_groups = 3, group_score = max>
// CHECK-SAME: e = #moe.routing<softmax, k = 1, scale = 0.1>
// CHECK-SAME: f = #moe.routing<sigmoid, k = 2, renormalize, groups = 4, topk_groups = 2, masked_score = 0.0>
// CHECK-SAME: g = #moe.routing<sparsemixer, k = 2, gap = 0.02>
// CHECK-SAME: h = #moe.routing<sparsemixer, k = 2>
func.func private @routing() attributes {
  a = #moe.routing<softmax, k = 2, groups = 1, topk_groups = 1, scale = 1.0>,
  b = #moe.routing<softmax, renormalize, k = 2>,
  c = #moe.routing<sigmoid, k = 8, renormalize, groups = 8, topk_groups = 4,
                   group_score = top2_sum, scale = 2.5>,
  d = #moe.routing<sigmoid, k = 6, groups = 8, topk_groups = 3, group_score = max>,
  e = #moe.routing<softmax, k = 1, scale = 0.1>,
  f = #moe.routing<sigmoid, k = 2, renormalize, groups = 4, topk_groups = 2,
                   masked_score = 0.0>,
  g = #moe.routing<sparsemixer, gap = 0.02, k = 2>,
  h = #moe.routing<sparsemixer, k = 2, gap = 0.0>
}

// CHECK-LABEL: func.func private @activation
// CHECK-SAME: a = #moe.activation<relu>
// CHECK-SAME: b = #moe.activation<gelu>
// CHECK-SAME: c = #moe.activation<gelu_tanh>
// CHECK-SAME: d = #moe.activation<silu, alpha = 1.702>
// CHECK-SAME: e = #moe.activation<silu, gated = separate>
// CHECK-SAME: f = #moe.activation<silu, gated = interleaved, alpha = 1.702, beta = 1.0, limit = 7.0>
// CHECK-SAME: g = #moe.activation<identity, gated = concatenated>
func.func private @activation() attributes {
  a = #moe.activation<relu>,
  b = #moe.activation<gelu, gated = none>,
  c = #moe.activation<gelu_tanh>,
  d = #moe.activation<silu, alpha = 1.702>,
  e = #moe.activation<silu, gated = separate, alpha = 1.0, beta = 0.0>,
  f = #moe.activation<silu, limit = 7.0, beta = 1.0, alpha = 1.702, gated = interleaved>,
  g = #moe.activation<identity, gated = concatenated>
}
