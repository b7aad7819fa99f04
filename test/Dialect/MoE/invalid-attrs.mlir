// RUN: moe-opt %s -split-input-file -verify-diagnostics
// Errors in #moe.routing and #moe.activation syntax and values.

// expected-error @+1 {{routing needs 'k = <experts per token>'}}
func.func private @no_k() attributes {r = #moe.routing<softmax>}

// -----

// expected-error @+1 {{unknown scoring 'tanh'}}
func.func private @bad_scoring() attributes {r = #moe.routing<tanh, k = 2>}

// -----

// expected-error @+1 {{unknown routing setting 'capacity'}}
func.func private @bad_key() attributes {r = #moe.routing<softmax, k = 2, capacity = 4>}

// -----

// expected-error @+1 {{'k' given twice}}
func.func private @twice() attributes {r = #moe.routing<softmax, k = 2, k = 3>}

// -----

// expected-error @+1 {{routing k must be at least 1, got 0}}
func.func private @zero_k() attributes {r = #moe.routing<softmax, k = 0>}

// -----

// expected-error @+1 {{routing scale must be finite and positive, got -1.0}}
func.func private @negative_scale() attributes {r = #moe.routing<softmax, k = 2, scale = -1.0>}

// -----

// expected-error @+1 {{routing gap must be finite and non-negative, got -0.5}}
func.func private @negative_gap() attributes {r = #moe.routing<sparsemixer, k = 2, gap = -0.5>}

// -----

// expected-error @+1 {{routing gap applies to sparsemixer scoring only}}
func.func private @gap_softmax() attributes {r = #moe.routing<softmax, k = 2, gap = 0.5>}

// -----

// expected-error @+1 {{sparsemixer routing takes no expert groups}}
func.func private @mixer_groups() attributes {r = #moe.routing<sparsemixer, k = 2, groups = 2>}

// -----

// expected-error @+1 {{unknown group score 'mean'}}
func.func private @bad_group_score() attributes {r = #moe.routing<sigmoid, k = 2, groups = 2, group_score = mean>}

// -----

// expected-error @+1 {{unknown activation 'swish'}}
func.func private @bad_activation() attributes {a = #moe.activation<swish>}

// -----

// expected-error @+1 {{unknown gating 'fused'}}
func.func private @bad_gating() attributes {a = #moe.activation<silu, gated = fused>}

// -----

// expected-error @+1 {{beta and limit only apply to gated activations}}
func.func private @limit_ungated() attributes {a = #moe.activation<silu, limit = 7.0>}

// -----

// expected-error @+1 {{activation limit must be positive, got -7.0}}
func.func private @negative_limit() attributes {a = #moe.activation<silu, gated = interleaved, limit = -7.0>}

// -----

// expected-error @+1 {{alpha only applies to silu, not gelu}}
func.func private @alpha_gelu() attributes {a = #moe.activation<gelu, alpha = 1.702>}

// -----

// expected-error @+1 {{unknown activation setting 'gamma'}}
func.func private @bad_act_key() attributes {a = #moe.activation<silu, gamma = 1.0>}
