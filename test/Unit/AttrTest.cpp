//===- AttrTest.cpp - #moe.routing / #moe.activation through the C++ API --===//

#include "TestUtils.h"

#include "moe/Dialect/MoE.h"

#include "mlir/AsmParser/AsmParser.h"

using namespace mlir;
using namespace mlir::moe;
using moe_test::MoETest;

namespace {
std::string print(Attribute attr) {
  std::string text;
  llvm::raw_string_ostream os(text);
  attr.print(os);
  return text;
}

TEST_F(MoETest, RoutingBuilderUsesDefaults) {
  auto routing = RoutingAttr::get(&context, Scoring::softmax, 2, true);
  EXPECT_EQ(print(routing), "#moe.routing<softmax, k = 2, renormalize>");
  EXPECT_EQ(routing.getGroups(), 1);
  EXPECT_TRUE(routing.getScale().isExactlyValue(1.0));
}

TEST_F(MoETest, RoutingRoundTripsEverySetting) {
  const char *text = "#moe.routing<sigmoid, k = 8, renormalize, groups = 8, "
                     "topk_groups = 4, group_score = max, scale = 2.5>";
  auto routing = dyn_cast_or_null<RoutingAttr>(parseAttribute(text, &context));
  ASSERT_TRUE(routing) << diagnostics;
  EXPECT_EQ(routing.getScoring(), Scoring::sigmoid);
  EXPECT_EQ(routing.getK(), 8);
  EXPECT_EQ(routing.getTopkGroups(), 4);
  EXPECT_EQ(routing.getGroupScore(), GroupScore::max);
  EXPECT_TRUE(routing.getScale().isExactlyValue(2.5));
  EXPECT_EQ(print(routing), text);
}

TEST_F(MoETest, RoutingChecksExpertCount) {
  auto routing = RoutingAttr::get(&context, Scoring::softmax, 6, false);
  auto emit = [&] { return emitError(UnknownLoc::get(&context)); };
  EXPECT_TRUE(succeeded(routing.verifyForExperts(emit, 8, /*hasBias=*/false)));
  EXPECT_TRUE(failed(routing.verifyForExperts(emit, 4, /*hasBias=*/false)));
  EXPECT_NE(diagnostics.find("k = 6 exceeds the number of experts (4)"),
            std::string::npos)
      << diagnostics;
}

TEST_F(MoETest, RoutingRejectsBadGroups) {
  EXPECT_FALSE(parseAttribute("#moe.routing<softmax, k = 2, groups = 2, "
                              "topk_groups = 3>",
                              &context));
  EXPECT_NE(diagnostics.find("topk_groups must be in [1, groups = 2]"),
            std::string::npos)
      << diagnostics;
}

TEST_F(MoETest, ActivationWidthFollowsGating) {
  auto fused =
      ActivationAttr::get(&context, ActivationKind::silu, Gating::interleaved);
  auto separate =
      ActivationAttr::get(&context, ActivationKind::silu, Gating::separate);
  auto plain =
      ActivationAttr::get(&context, ActivationKind::relu, Gating::none);
  EXPECT_EQ(fused.getFc1Width(128), 256);
  EXPECT_EQ(separate.getFc1Width(128), 128);
  EXPECT_EQ(plain.getFc1Width(128), 128);
  EXPECT_TRUE(fused.getLimit().isInfinity());
  EXPECT_EQ(print(fused), "#moe.activation<silu, gated = interleaved>");
}

TEST_F(MoETest, ActivationParsesSwigluParameters) {
  const char *text = "#moe.activation<silu, gated = interleaved, alpha = "
                     "1.702, beta = 1.0, limit = 7.0>";
  auto act = dyn_cast_or_null<ActivationAttr>(parseAttribute(text, &context));
  ASSERT_TRUE(act) << diagnostics;
  EXPECT_TRUE(act.getAlpha().isExactlyValue(1.702));
  EXPECT_TRUE(act.getBeta().isExactlyValue(1.0));
  EXPECT_TRUE(act.getLimit().isExactlyValue(7.0));
  EXPECT_EQ(print(act), text);
}

TEST_F(MoETest, ActivationRejectsAlphaOutsideSilu) {
  EXPECT_FALSE(parseAttribute("#moe.activation<relu, alpha = 2.0>", &context));
  EXPECT_NE(diagnostics.find("alpha only applies to silu"), std::string::npos)
      << diagnostics;
}
} // namespace
