// RUN: moe-opt %s -split-input-file -moe-cpu-define-dot-intrinsics -verify-diagnostics
// A declaration of another shape is an error, not a wrong intrinsic call.

// expected-error @+1 {{'moe_bf16_dot' must take an accumulator and 2 vectors and return the accumulator}}
func.func private @moe_bf16_dot(vector<16xf32>, vector<32xbf16>) -> vector<16xf32>

// -----

// expected-error @+1 {{'moe_int8_dot_vnni' must take an accumulator and 2 vectors and return the accumulator}}
func.func private @moe_int8_dot_vnni(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xf32>
