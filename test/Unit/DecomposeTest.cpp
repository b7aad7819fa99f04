//===- DecomposeTest.cpp - moe-decompose driven from the C++ API ----------===//

#include "TestUtils.h"

#include "moe/Dialect/MoE.h"
#include "moe/Passes/MoE.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace mlir::moe;
using moe_test::MoETest;

namespace {
const char *kLayer = R"mlir(
func.func @f(%x: tensor<?x16xf32>, %l: tensor<?x4xf32>,
             %w1: tensor<4x8x16xf32>, %w3: tensor<4x8x16xf32>,
             %w2: tensor<4x16x8xf32>, %s1: tensor<8x16xf32>,
             %s3: tensor<8x16xf32>, %s2: tensor<16x8xf32>)
    -> tensor<?x16xf32> {
  %y = moe.layer %x : tensor<?x16xf32>
      logits(%l : tensor<?x4xf32>)
      fc1(%w1 : tensor<4x8x16xf32>) fc3(%w3 : tensor<4x8x16xf32>)
      fc2(%w2 : tensor<4x16x8xf32>)
      shared_fc1(%s1 : tensor<8x16xf32>) shared_fc3(%s3 : tensor<8x16xf32>)
      shared_fc2(%s2 : tensor<16x8xf32>)
      routing <softmax, k = 2, renormalize>
      activation <silu, gated = separate> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
)mlir";

template <typename OpT> int count(ModuleOp module) {
  int n = 0;
  module.walk([&](OpT) { ++n; });
  return n;
}

TEST_F(MoETest, DecomposeProducesTheStepOps) {
  auto module = parse(kLayer);
  ASSERT_TRUE(module) << diagnostics;
  PassManager pm(&context);
  pm.addPass(createMoEDecompose());
  ASSERT_TRUE(succeeded(pm.run(*module))) << diagnostics;
  EXPECT_EQ(count<LayerOp>(*module), 0);
  EXPECT_EQ(count<RouteOp>(*module), 1);
  EXPECT_EQ(count<DispatchOp>(*module), 1);
  // fc1, fc3, fc2, then the shared fc1, fc3, fc2 as one-expert GEMMs.
  EXPECT_EQ(count<ExpertMatmulOp>(*module), 6);
  EXPECT_EQ(count<ActivationOp>(*module), 2); // routed and shared
  EXPECT_EQ(count<CombineOp>(*module), 1);
  EXPECT_EQ(count<linalg::MatmulOp>(*module), 0); // no shared gate here
}

TEST_F(MoETest, DecomposeRejectsBlockBelowOne) {
  auto module = parse(kLayer);
  ASSERT_TRUE(module) << diagnostics;
  PassManager pm(&context);
  pm.addPass(createMoEDecompose(MoEDecomposeOptions{/*dispatchBlock=*/0}));
  EXPECT_TRUE(failed(pm.run(*module)));
  EXPECT_NE(diagnostics.find("block must be at least 1"), std::string::npos)
      << diagnostics;
}
} // namespace
