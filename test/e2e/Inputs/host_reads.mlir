// The host checks a value a kernel computed: the call waits for that
// kernel mid-way (cuda-async-emulated.test).
#id = affine_map<(d0) -> (d0)>
func.func @host_reads(%x: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %limit = arith.constant 1.0e6 : f32
  %n = tensor.dim %x, %c0 : tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<?xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %first = tensor.extract %y[%c0] : tensor<?xf32>
  %ok = arith.cmpf olt, %first, %limit : f32
  cf.assert %ok, "host_reads: the first value is too large"
  %init2 = tensor.empty(%n) : tensor<?xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%y : tensor<?xf32>) outs(%init2 : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %z : tensor<?xf32>
}
