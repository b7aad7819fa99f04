// RUN: moe-opt %s -split-input-file -verify-diagnostics

func.func @counts_per_rank(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{expects send_counts dimension 0 (ranks) to be 4, got 2}}
  %o, %r = moe.all_to_all %x, %c ranks = 4
      : (tensor<?x64xf32>, tensor<2xi32>) -> (tensor<?x64xf32>, tensor<4xi32>)
  return
}

// -----

func.func @output_width(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{expects output of type [rows, 64] x 'f32', got 'tensor<?x32xf32>'}}
  %o, %r = moe.all_to_all %x, %c ranks = 2
      : (tensor<?x64xf32>, tensor<2xi32>) -> (tensor<?x32xf32>, tensor<2xi32>)
  return
}

// -----

func.func @zero_ranks(%x: tensor<?x64xf32>, %c: tensor<0xi32>) {
  // expected-error @+1 {{attribute 'ranks' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %o, %r = moe.all_to_all %x, %c ranks = 0
      : (tensor<?x64xf32>, tensor<0xi32>) -> (tensor<?x64xf32>, tensor<0xi32>)
  return
}

// -----

func.func @handle_ranks(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{handle is for 4 ranks, but the exchange has 2}}
  %h = moe.all_to_all_start %x, %c ranks = 2
      : (tensor<?x64xf32>, tensor<2xi32>) -> !moe.a2a_handle<4, tensor<?x64xf32>>
  %o, %r = moe.all_to_all_wait %h
      : !moe.a2a_handle<4, tensor<?x64xf32>> -> (tensor<?x64xf32>, tensor<4xi32>)
  return
}

// -----

func.func @never_waited(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{handle must be consumed exactly once (by moe.all_to_all_wait), found 0 uses}}
  %h = moe.all_to_all_start %x, %c ranks = 2
      : (tensor<?x64xf32>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xf32>>
  return
}

// -----

func.func @waited_twice(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{found 2 uses}}
  %h = moe.all_to_all_start %x, %c ranks = 2
      : (tensor<?x64xf32>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xf32>>
  %o, %r = moe.all_to_all_wait %h
      : !moe.a2a_handle<2, tensor<?x64xf32>> -> (tensor<?x64xf32>, tensor<2xi32>)
  %o2, %r2 = moe.all_to_all_wait %h
      : !moe.a2a_handle<2, tensor<?x64xf32>> -> (tensor<?x64xf32>, tensor<2xi32>)
  return
}

// -----

func.func @wait_type(%x: tensor<?x64xf32>, %c: tensor<2xi32>) {
  %h = moe.all_to_all_start %x, %c ranks = 2
      : (tensor<?x64xf32>, tensor<2xi32>) -> !moe.a2a_handle<2, tensor<?x64xf32>>
  // expected-error @+1 {{output type 'tensor<?x64xf16>' differs from the handle's 'tensor<?x64xf32>'}}
  %o, %r = moe.all_to_all_wait %h
      : !moe.a2a_handle<2, tensor<?x64xf32>> -> (tensor<?x64xf16>, tensor<2xi32>)
  return
}

// -----

// expected-error @+1 {{exchanged data must be a [rows, H] tensor, got 'tensor<64xf32>'}}
func.func @handle_rank(%h: !moe.a2a_handle<2, tensor<64xf32>>)

// -----

func.func @i64_rows(%x: tensor<?x4xi64>, %c: tensor<2xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 32-bit signless integer values}}
  %o, %r = moe.all_to_all %x, %c ranks = 2
      : (tensor<?x4xi64>, tensor<2xi32>) -> (tensor<?x4xi64>, tensor<2xi32>)
  return
}
