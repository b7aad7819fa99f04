//===- VerifierTest.cpp - building moe ops from C++ -----------------------===//
//
// Importers and passes build moe ops through the C++ builders; these tests
// pin that API and the shape arithmetic the verifiers share with passes.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "moe/Dialect/MoE.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::moe;
using moe_test::MoETest;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

TEST(DispatchRows, CountsPaddingAndOverflow) {
  EXPECT_EQ(DispatchOp::getRowCount(4, 2, 8, 1), 8);
  EXPECT_EQ(DispatchOp::getRowCount(4, 2, 8, 16), 8 + 8 * 15);
  EXPECT_EQ(DispatchOp::getRowCount(kDyn, 2, 8, 1), kDyn);
  EXPECT_EQ(DispatchOp::getRowCount(int64_t(1) << 62, 8, 8, 1), kDyn);
}

/// Builds `func @f(args) { moe.layer ... }` and returns the layer.
class LayerBuilderTest : public MoETest {
protected:
  LayerOp build(int64_t tokens, int64_t hidden, int64_t experts, int64_t inter,
                int64_t fc2Hidden) {
    OpBuilder b(&context);
    Location loc = b.getUnknownLoc();
    module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    Type f32 = b.getF32Type();
    SmallVector<Type> args = {
        RankedTensorType::get({tokens, hidden}, f32),
        RankedTensorType::get({tokens, experts}, f32),
        RankedTensorType::get({experts, 2 * inter, hidden}, f32),
        RankedTensorType::get({experts, fc2Hidden, inter}, f32)};
    auto func = func::FuncOp::create(b, loc, "f", b.getFunctionType(args, {}));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToEnd(body);
    auto routing = RoutingAttr::get(&context, Scoring::softmax, 2, true);
    auto act = ActivationAttr::get(&context, ActivationKind::silu,
                                   Gating::interleaved);
    auto layer = LayerOp::create(
        b, loc, args[0], body->getArgument(0), body->getArgument(1),
        /*router_weight=*/Value(), /*router_bias=*/Value(),
        body->getArgument(2), /*fc1_bias=*/Value(), /*fc3=*/Value(),
        /*fc3_bias=*/Value(), body->getArgument(3), /*fc2_bias=*/Value(),
        /*shared_fc1=*/Value(), /*shared_fc3=*/Value(),
        /*shared_fc2=*/Value(), /*shared_gate=*/Value(),
        /*fc1_scales=*/Value(), /*fc3_scales=*/Value(),
        /*fc2_scales=*/Value(), /*fc1_zero_points=*/Value(),
        /*fc3_zero_points=*/Value(), /*fc2_zero_points=*/Value(), routing,
        act);
    func::ReturnOp::create(b, loc);
    return layer;
  }

  OwningOpRef<ModuleOp> module;
};

TEST_F(LayerBuilderTest, BuildsAValidLayer) {
  LayerOp layer = build(kDyn, 64, 8, 32, 64);
  EXPECT_TRUE(succeeded(verify(*module))) << diagnostics;
  EXPECT_EQ(layer.getNumExperts(), 8);
  EXPECT_FALSE(layer.hasSharedExperts());
}

TEST_F(LayerBuilderTest, ReportsHiddenSizeMismatch) {
  build(16, 64, 8, 32, 48);
  EXPECT_TRUE(failed(verify(*module)));
  EXPECT_NE(diagnostics.find("expects fc2 dimension 1 (hidden size) to be 64, "
                             "got 48"),
            std::string::npos)
      << diagnostics;
}
} // namespace

namespace {
TEST_F(MoETest, HandleTypeRejectsNonMatrixData) {
  auto data = RankedTensorType::get({64}, Float32Type::get(&context));
  auto emit = [&] { return emitError(UnknownLoc::get(&context)); };
  EXPECT_FALSE(
      AllToAllHandleType::getChecked(emit, &context, int64_t(2), data));
  EXPECT_NE(diagnostics.find("exchanged data must be a [rows, H] tensor"),
            std::string::npos)
      << diagnostics;
  auto matrix = RankedTensorType::get({kDyn, 64}, Float32Type::get(&context));
  EXPECT_TRUE(
      AllToAllHandleType::getChecked(emit, &context, int64_t(2), matrix));
}

TEST_F(MoETest, RouteCountsExpertsFromGateOrLogits) {
  auto module = parse(R"mlir(
    func.func @f(%x: tensor<?x32xf32>, %wg: tensor<16x32xf32>, %l: tensor<?x8xf32>) {
      %w, %i = moe.route %x gate(%wg) routing <softmax, k = 2>
          : (tensor<?x32xf32>, tensor<16x32xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
      %w2, %i2 = moe.route %l routing <softmax, k = 2>
          : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
      return
    })mlir");
  ASSERT_TRUE(module) << diagnostics;
  SmallVector<int64_t> experts;
  module->walk([&](RouteOp op) { experts.push_back(op.getNumExperts()); });
  ASSERT_EQ(experts.size(), 2u);
  EXPECT_EQ(experts[0], 16);
  EXPECT_EQ(experts[1], 8);
}
} // namespace
