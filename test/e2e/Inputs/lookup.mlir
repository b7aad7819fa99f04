// A table lookup whose kernel checks each id: a check that kernels make,
// read by the host at the end of a call (cuda-async-emulated.test).
#id = affine_map<(d0) -> (d0)>
func.func @lookup(%ids: tensor<?xi32>) -> tensor<?xf32> {
  %table = arith.constant dense<[0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]> : tensor<8xf32>
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  %n = tensor.dim %ids, %c0 : tensor<?xi32>
  %init = tensor.empty(%n) : tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%ids : tensor<?xi32>) outs(%init : tensor<?xf32>) {
  ^bb0(%i: i32, %o: f32):
    %idx = arith.index_cast %i : i32 to index
    %ok = arith.cmpi ult, %idx, %c8 : index
    cf.assert %ok, "lookup: an id is out of range [0, 8)"
    %v = tensor.extract %table[%idx] : tensor<8xf32>
    linalg.yield %v : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
