// RUN: moe-opt %s -split-input-file -verify-diagnostics --moe-raise-decomposed-moe | FileCheck %s

// The pass on onnx-dialect IR: the tiny Mixtral block as torch.onnx's dynamo
// exporter writes it (test/e2e/Inputs/torch/tiny_mixtral.dynamo.onnxtxt,
// imported with --onnx-no-raise). The router (Gemm, Softmax, TopK,
// renormalization), the loop over the experts (Equal one-hot, NonZero,
// GatherND, SwiGLU FFNs, ScatterND add) become one moe.layer with the
// experts' weights stacked at compile time.
// CHECK-LABEL: func.func @mixtral
// CHECK-NOT: onnx.TopK
// CHECK-NOT: onnx.NonZero
// CHECK-NOT: onnx.ScatterND
// CHECK: %[[W:.*]] = onnx.Constant() {value = dense<{{.*}}> : tensor<3x4xf32>}
// CHECK: %[[X:.*]] = onnx.Reshape(%arg0
// CHECK: %[[FC1:.*]] = onnx.Constant() {value = dense_resource<moe_fc1> : tensor<3x4x4xf32>}
// CHECK: %[[FC3:.*]] = onnx.Constant() {value = dense_resource<moe_fc3> : tensor<3x4x4xf32>}
// CHECK: %[[FC2:.*]] = onnx.Constant() {value = dense_resource<moe_fc2> : tensor<3x4x4xf32>}
// CHECK: %[[Y:.*]] = moe.layer %[[X]] : tensor<?x4xf32> gate(%[[W]] : tensor<3x4xf32>) fc1(%[[FC1]] : tensor<3x4x4xf32>) fc3(%[[FC3]] : tensor<3x4x4xf32>) fc2(%[[FC2]] : tensor<3x4x4xf32>) routing <softmax, k = 2, renormalize> activation <silu, gated = separate> -> tensor<?x4xf32>
// CHECK-NOT: onnx.Gemm
// CHECK: onnx.Reshape(%[[Y]]
func.func @mixtral(%arg0: tensor<?x?x4xf32> {onnx.dims = ["batch", "seq", ""], onnx.name = "x"}) -> (tensor<?x?x4xf32> {onnx.dims = ["batch", "seq", ""], onnx.name = "y"}) {
  %0 = onnx.Constant() {value = dense<[[-0.220416039, -0.0418662056, 0.0722390786, -0.165983096], [-0.614475608, 0.357525587, 0.248502135, 0.0532412454], [-0.60341543, -0.250852287, 0.191074938, 0.301401556]]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %1 = onnx.Constant() {value = dense<[[0.274295628, 0.139158443, -0.313887626, 0.180932552], [0.240090862, -0.308534414, 0.0584743395, -0.152224898], [-0.0230482668, 0.146374628, -0.773680567, 0.300205529], [0.15220888, 0.726775646, 0.0562560856, 0.205162212]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %2 = onnx.Constant() {value = dense<[[0.00819844753, 0.198139146, 0.221772134, 0.213794276], [-0.162677839, -0.232554331, 0.363878071, -0.239641085], [0.217630282, -0.145115882, 0.169997916, -0.118803278], [-0.153030008, 0.260968953, 0.150141627, -0.166698784]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %3 = onnx.Constant() {value = dense<[[0.114090912, -0.0200104453, 0.205459744, 0.0231850892], [-0.743296623, -0.346937358, 0.348164767, -0.0918437317], [-0.0505654141, 0.553888261, 0.285066158, -0.101882517], [0.438403279, -0.193173259, 0.283494025, -0.327336788]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %4 = onnx.Constant() {value = dense<[[0.0373371169, 0.332645118, 0.0510258451, 3.501120e-02], [0.360499203, -0.194272459, -0.156910822, -0.0322323404], [-0.0223939624, 0.0178399421, 0.245316058, 0.0868196785], [0.232316926, -0.218701899, 0.367825359, -0.111432314]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %5 = onnx.Constant() {value = dense<[[0.280576289, 0.23028858, -0.0866845399, 0.200149864], [0.049100887, -0.162470952, 0.948841214, 0.0726223289], [0.327946603, -0.701730251, -0.268882126, -0.187193394], [7.450960e-02, 0.277700961, -0.210731387, 0.171227396]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %6 = onnx.Constant() {value = dense<[[0.0111303451, 0.196342334, -0.0762519315, -0.211129218], [0.322993547, 0.075697571, -0.261705458, 0.0301881544], [0.171165437, 0.174409717, 0.00772467116, 0.165027946], [0.17785351, -0.422136188, -0.465984225, 0.254965216]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %7 = onnx.Constant() {value = dense<[[0.0946838259, -0.0546163656, -0.102130823, -0.176729232], [-0.147797242, -0.160232395, 0.123538114, 0.163030088], [0.115379907, 0.188203514, 0.196229622, 0.0327963345], [0.11050076, -0.557924449, -0.0718263164, -0.44391036]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %8 = onnx.Constant() {value = dense<[[-0.453136414, 0.0229980238, 0.100621708, -0.160853907], [0.050311394, 0.0365698785, -0.0726466924, 0.724010825], [-0.167734578, -0.54230839, 0.152746037, 0.1216757], [0.671423197, 3.741310e-02, 0.0256193709, 0.171625137]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %9 = onnx.Constant() {value = dense<[[0.381048501, 0.517244101, -0.0158579275, 0.466554731], [-0.176602364, -0.206271946, -0.119088173, 0.312780321], [0.202042624, 0.179226488, 0.229637921, 0.370432138], [0.531542301, 0.0547986776, -0.0167261269, 0.14312619]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %10 = onnx.Constant() {value = dense<[-1, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %11 = onnx.Constant() {value = dense<0.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %12 = onnx.Constant() {value = dense<[0, 1, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %13 = onnx.Constant() {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %14 = onnx.Constant() {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %15 = onnx.Constant() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %16 = onnx.Constant() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %17 = onnx.Constant() {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %18 = onnx.Constant() {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %19 = onnx.Constant() {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %20 = onnx.Constant() {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %21 = onnx.Shape(%arg0) {end = 1 : si64} : (tensor<?x?x4xf32>) -> tensor<1xi64>
  %22 = onnx.Shape(%arg0) {end = 2 : si64, start = 1 : si64} : (tensor<?x?x4xf32>) -> tensor<1xi64>
  %23 = onnx.Reshape(%arg0, %10) {allowzero = 1 : si64} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %24 = onnx.NoValue
  %25 = onnx.Gemm(%23, %0, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<3x4xf32>, none) -> tensor<?x3xf32>
  %26 = onnx.Softmax(%25) {axis = 1 : si64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %Values, %Indices = onnx.TopK(%26, %13) : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %27 = onnx.ReduceSum(%Values, %14) : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %28 = onnx.Div(%Values, %27) : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %29 = onnx.Shape(%23) : (tensor<?x4xf32>) -> tensor<2xi64>
  %30 = onnx.Expand(%11, %29) : (tensor<f32>, tensor<2xi64>) -> tensor<?x4xf32>
  %31 = onnx.Unsqueeze(%Indices, %14) : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?x2x1xi64>
  %32 = onnx.Equal(%31, %12) : (tensor<?x2x1xi64>, tensor<3xi64>) -> tensor<?x2x3xi1>
  %33 = onnx.Cast(%32) {to = 7 : si64} : (tensor<?x2x3xi1>) -> tensor<?x2x3xi64>
  %34 = onnx.Transpose(%33) {perm = [2, 1, 0]} : (tensor<?x2x3xi64>) -> tensor<3x2x?xi64>
  %35 = onnx.Gather(%34, %15) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %36 = onnx.NonZero(%35) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %37 = onnx.Transpose(%36) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %38 = onnx.Slice(%37, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %39 = onnx.Squeeze(%38, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %40 = onnx.Slice(%37, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %41 = onnx.Squeeze(%40, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %42 = onnx.Unsqueeze(%23, %17) : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
  %43 = onnx.Transpose(%42) {perm = [1, 0, 2]} : (tensor<1x?x4xf32>) -> tensor<?x1x4xf32>
  %44 = onnx.Unsqueeze(%41, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %45 = onnx.GatherND(%43, %44) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %46 = onnx.Transpose(%45) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %47 = onnx.Reshape(%46, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %48 = onnx.Gemm(%47, %1, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %49 = onnx.Sigmoid(%48) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %50 = onnx.Mul(%48, %49) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %51 = onnx.Gemm(%47, %2, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %52 = onnx.Mul(%50, %51) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %53 = onnx.Gemm(%52, %3, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %54 = onnx.Unsqueeze(%28, %13) : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %55 = onnx.Unsqueeze(%39, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %56 = onnx.Concat(%44, %55) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %57 = onnx.GatherND(%54, %56) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %58 = onnx.Mul(%53, %57) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %59 = onnx.ScatterND(%30, %44, %58) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %60 = onnx.Gather(%34, %16) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %61 = onnx.NonZero(%60) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %62 = onnx.Transpose(%61) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %63 = onnx.Slice(%62, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %64 = onnx.Squeeze(%63, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %65 = onnx.Slice(%62, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %66 = onnx.Squeeze(%65, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %67 = onnx.Unsqueeze(%66, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %68 = onnx.GatherND(%43, %67) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %69 = onnx.Transpose(%68) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %70 = onnx.Reshape(%69, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %71 = onnx.Gemm(%70, %4, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %72 = onnx.Sigmoid(%71) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %73 = onnx.Mul(%71, %72) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %74 = onnx.Gemm(%70, %5, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %75 = onnx.Mul(%73, %74) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %76 = onnx.Gemm(%75, %6, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %77 = onnx.Unsqueeze(%64, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %78 = onnx.Concat(%67, %77) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %79 = onnx.GatherND(%54, %78) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %80 = onnx.Mul(%76, %79) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %81 = onnx.ScatterND(%59, %67, %80) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %82 = onnx.Gather(%34, %19) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %83 = onnx.NonZero(%82) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %84 = onnx.Transpose(%83) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %85 = onnx.Slice(%84, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %86 = onnx.Squeeze(%85, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %87 = onnx.Slice(%84, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %88 = onnx.Squeeze(%87, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %89 = onnx.Unsqueeze(%88, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %90 = onnx.GatherND(%43, %89) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %91 = onnx.Transpose(%90) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %92 = onnx.Reshape(%91, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %93 = onnx.Gemm(%92, %7, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %94 = onnx.Sigmoid(%93) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %95 = onnx.Mul(%93, %94) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %96 = onnx.Gemm(%92, %8, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %97 = onnx.Mul(%95, %96) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %98 = onnx.Gemm(%97, %9, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %99 = onnx.Unsqueeze(%86, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %100 = onnx.Concat(%89, %99) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %101 = onnx.GatherND(%54, %100) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %102 = onnx.Mul(%98, %101) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %103 = onnx.ScatterND(%81, %89, %102) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %104 = onnx.Concat(%21, %22, %20) {axis = 0 : si64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %105 = onnx.Reshape(%103, %104) {allowzero = 1 : si64} : (tensor<?x4xf32>, tensor<3xi64>) -> tensor<?x?x4xf32>
  return %105 : tensor<?x?x4xf32>
}

// -----

// A near miss (top-k of the smallest scores) stays dense, with a remark at
// the block's accumulator.
// CHECK-LABEL: func.func @smallest_k
// CHECK-NOT: moe.layer
// CHECK: onnx.TopK
// CHECK: onnx.ScatterND
func.func @smallest_k(%arg0: tensor<?x?x4xf32> {onnx.dims = ["batch", "seq", ""], onnx.name = "x"}) -> (tensor<?x?x4xf32> {onnx.dims = ["batch", "seq", ""], onnx.name = "y"}) {
  %0 = onnx.Constant() {value = dense<[[-0.220416039, -0.0418662056, 0.0722390786, -0.165983096], [-0.614475608, 0.357525587, 0.248502135, 0.0532412454], [-0.60341543, -0.250852287, 0.191074938, 0.301401556]]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %1 = onnx.Constant() {value = dense<[[0.274295628, 0.139158443, -0.313887626, 0.180932552], [0.240090862, -0.308534414, 0.0584743395, -0.152224898], [-0.0230482668, 0.146374628, -0.773680567, 0.300205529], [0.15220888, 0.726775646, 0.0562560856, 0.205162212]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %2 = onnx.Constant() {value = dense<[[0.00819844753, 0.198139146, 0.221772134, 0.213794276], [-0.162677839, -0.232554331, 0.363878071, -0.239641085], [0.217630282, -0.145115882, 0.169997916, -0.118803278], [-0.153030008, 0.260968953, 0.150141627, -0.166698784]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %3 = onnx.Constant() {value = dense<[[0.114090912, -0.0200104453, 0.205459744, 0.0231850892], [-0.743296623, -0.346937358, 0.348164767, -0.0918437317], [-0.0505654141, 0.553888261, 0.285066158, -0.101882517], [0.438403279, -0.193173259, 0.283494025, -0.327336788]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %4 = onnx.Constant() {value = dense<[[0.0373371169, 0.332645118, 0.0510258451, 3.501120e-02], [0.360499203, -0.194272459, -0.156910822, -0.0322323404], [-0.0223939624, 0.0178399421, 0.245316058, 0.0868196785], [0.232316926, -0.218701899, 0.367825359, -0.111432314]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %5 = onnx.Constant() {value = dense<[[0.280576289, 0.23028858, -0.0866845399, 0.200149864], [0.049100887, -0.162470952, 0.948841214, 0.0726223289], [0.327946603, -0.701730251, -0.268882126, -0.187193394], [7.450960e-02, 0.277700961, -0.210731387, 0.171227396]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %6 = onnx.Constant() {value = dense<[[0.0111303451, 0.196342334, -0.0762519315, -0.211129218], [0.322993547, 0.075697571, -0.261705458, 0.0301881544], [0.171165437, 0.174409717, 0.00772467116, 0.165027946], [0.17785351, -0.422136188, -0.465984225, 0.254965216]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %7 = onnx.Constant() {value = dense<[[0.0946838259, -0.0546163656, -0.102130823, -0.176729232], [-0.147797242, -0.160232395, 0.123538114, 0.163030088], [0.115379907, 0.188203514, 0.196229622, 0.0327963345], [0.11050076, -0.557924449, -0.0718263164, -0.44391036]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %8 = onnx.Constant() {value = dense<[[-0.453136414, 0.0229980238, 0.100621708, -0.160853907], [0.050311394, 0.0365698785, -0.0726466924, 0.724010825], [-0.167734578, -0.54230839, 0.152746037, 0.1216757], [0.671423197, 3.741310e-02, 0.0256193709, 0.171625137]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %9 = onnx.Constant() {value = dense<[[0.381048501, 0.517244101, -0.0158579275, 0.466554731], [-0.176602364, -0.206271946, -0.119088173, 0.312780321], [0.202042624, 0.179226488, 0.229637921, 0.370432138], [0.531542301, 0.0547986776, -0.0167261269, 0.14312619]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %10 = onnx.Constant() {value = dense<[-1, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %11 = onnx.Constant() {value = dense<0.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %12 = onnx.Constant() {value = dense<[0, 1, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %13 = onnx.Constant() {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %14 = onnx.Constant() {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %15 = onnx.Constant() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %16 = onnx.Constant() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %17 = onnx.Constant() {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %18 = onnx.Constant() {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %19 = onnx.Constant() {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %20 = onnx.Constant() {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %21 = onnx.Shape(%arg0) {end = 1 : si64} : (tensor<?x?x4xf32>) -> tensor<1xi64>
  %22 = onnx.Shape(%arg0) {end = 2 : si64, start = 1 : si64} : (tensor<?x?x4xf32>) -> tensor<1xi64>
  %23 = onnx.Reshape(%arg0, %10) {allowzero = 1 : si64} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %24 = onnx.NoValue
  %25 = onnx.Gemm(%23, %0, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<3x4xf32>, none) -> tensor<?x3xf32>
  %26 = onnx.Softmax(%25) {axis = 1 : si64} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %Values, %Indices = onnx.TopK(%26, %13) {largest = 0 : si64} : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %27 = onnx.ReduceSum(%Values, %14) : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %28 = onnx.Div(%Values, %27) : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %29 = onnx.Shape(%23) : (tensor<?x4xf32>) -> tensor<2xi64>
  // expected-remark @+1 {{MoE-like block left as dense ops: an accumulation step is not a routed expert}}
  %30 = onnx.Expand(%11, %29) : (tensor<f32>, tensor<2xi64>) -> tensor<?x4xf32>
  %31 = onnx.Unsqueeze(%Indices, %14) : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?x2x1xi64>
  %32 = onnx.Equal(%31, %12) : (tensor<?x2x1xi64>, tensor<3xi64>) -> tensor<?x2x3xi1>
  %33 = onnx.Cast(%32) {to = 7 : si64} : (tensor<?x2x3xi1>) -> tensor<?x2x3xi64>
  %34 = onnx.Transpose(%33) {perm = [2, 1, 0]} : (tensor<?x2x3xi64>) -> tensor<3x2x?xi64>
  %35 = onnx.Gather(%34, %15) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %36 = onnx.NonZero(%35) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %37 = onnx.Transpose(%36) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %38 = onnx.Slice(%37, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %39 = onnx.Squeeze(%38, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %40 = onnx.Slice(%37, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %41 = onnx.Squeeze(%40, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %42 = onnx.Unsqueeze(%23, %17) : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
  %43 = onnx.Transpose(%42) {perm = [1, 0, 2]} : (tensor<1x?x4xf32>) -> tensor<?x1x4xf32>
  %44 = onnx.Unsqueeze(%41, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %45 = onnx.GatherND(%43, %44) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %46 = onnx.Transpose(%45) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %47 = onnx.Reshape(%46, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %48 = onnx.Gemm(%47, %1, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %49 = onnx.Sigmoid(%48) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %50 = onnx.Mul(%48, %49) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %51 = onnx.Gemm(%47, %2, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %52 = onnx.Mul(%50, %51) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %53 = onnx.Gemm(%52, %3, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %54 = onnx.Unsqueeze(%28, %13) : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %55 = onnx.Unsqueeze(%39, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %56 = onnx.Concat(%44, %55) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %57 = onnx.GatherND(%54, %56) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %58 = onnx.Mul(%53, %57) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %59 = onnx.ScatterND(%30, %44, %58) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %60 = onnx.Gather(%34, %16) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %61 = onnx.NonZero(%60) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %62 = onnx.Transpose(%61) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %63 = onnx.Slice(%62, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %64 = onnx.Squeeze(%63, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %65 = onnx.Slice(%62, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %66 = onnx.Squeeze(%65, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %67 = onnx.Unsqueeze(%66, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %68 = onnx.GatherND(%43, %67) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %69 = onnx.Transpose(%68) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %70 = onnx.Reshape(%69, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %71 = onnx.Gemm(%70, %4, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %72 = onnx.Sigmoid(%71) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %73 = onnx.Mul(%71, %72) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %74 = onnx.Gemm(%70, %5, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %75 = onnx.Mul(%73, %74) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %76 = onnx.Gemm(%75, %6, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %77 = onnx.Unsqueeze(%64, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %78 = onnx.Concat(%67, %77) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %79 = onnx.GatherND(%54, %78) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %80 = onnx.Mul(%76, %79) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %81 = onnx.ScatterND(%59, %67, %80) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %82 = onnx.Gather(%34, %19) : (tensor<3x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %83 = onnx.NonZero(%82) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %84 = onnx.Transpose(%83) {perm = [1, 0]} : (tensor<2x?xi64>) -> tensor<?x2xi64>
  %85 = onnx.Slice(%84, %17, %18, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %86 = onnx.Squeeze(%85, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %87 = onnx.Slice(%84, %18, %13, %18, %24) : (tensor<?x2xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<?x1xi64>
  %88 = onnx.Squeeze(%87, %18) : (tensor<?x1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %89 = onnx.Unsqueeze(%88, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %90 = onnx.GatherND(%43, %89) : (tensor<?x1x4xf32>, tensor<?x1xi64>) -> tensor<?x1x4xf32>
  %91 = onnx.Transpose(%90) {perm = [1, 0, 2]} : (tensor<?x1x4xf32>) -> tensor<1x?x4xf32>
  %92 = onnx.Reshape(%91, %10) {allowzero = 1 : si64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %93 = onnx.Gemm(%92, %7, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %94 = onnx.Sigmoid(%93) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %95 = onnx.Mul(%93, %94) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %96 = onnx.Gemm(%92, %8, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %97 = onnx.Mul(%95, %96) : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %98 = onnx.Gemm(%97, %9, %24) {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>, none) -> tensor<?x4xf32>
  %99 = onnx.Unsqueeze(%86, %14) : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %100 = onnx.Concat(%89, %99) {axis = -1 : si64} : (tensor<?x1xi64>, tensor<?x1xi64>) -> tensor<?x2xi64>
  %101 = onnx.GatherND(%54, %100) : (tensor<?x2x1xf32>, tensor<?x2xi64>) -> tensor<?x1xf32>
  %102 = onnx.Mul(%98, %101) : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %103 = onnx.ScatterND(%81, %89, %102) {reduction = "add"} : (tensor<?x4xf32>, tensor<?x1xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %104 = onnx.Concat(%21, %22, %20) {axis = 0 : si64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %105 = onnx.Reshape(%103, %104) {allowzero = 1 : si64} : (tensor<?x4xf32>, tensor<3xi64>) -> tensor<?x?x4xf32>
  return %105 : tensor<?x?x4xf32>
}
