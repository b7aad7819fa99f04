//===- MoEAttrs.td - moe dialect enums and attributes --------*- tablegen -*-===//
//
// Routing and activation configuration attributes shared by `moe.layer`,
// `moe.route` and `moe.activation`.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_ATTRS_TD
#define MOE_ATTRS_TD

include "MoEDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def MoE_ScoringSoftmax : I32EnumAttrCase<"softmax", 0>;
def MoE_ScoringSigmoid : I32EnumAttrCase<"sigmoid", 1>;
def MoE_ScoringSparseMixer : I32EnumAttrCase<"sparsemixer", 2>;
def MoE_Scoring : I32EnumAttr<"Scoring", "router scoring function",
    [MoE_ScoringSoftmax, MoE_ScoringSigmoid, MoE_ScoringSparseMixer]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_GroupScoreMax : I32EnumAttrCase<"max", 0>;
def MoE_GroupScoreTop2Sum : I32EnumAttrCase<"top2_sum", 1>;
def MoE_GroupScore : I32EnumAttr<"GroupScore",
    "how an expert group is scored for group-limited routing",
    [MoE_GroupScoreMax, MoE_GroupScoreTop2Sum]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_ActIdentity : I32EnumAttrCase<"identity", 0>;
def MoE_ActRelu : I32EnumAttrCase<"relu", 1>;
def MoE_ActGelu : I32EnumAttrCase<"gelu", 2>;
def MoE_ActGeluTanh : I32EnumAttrCase<"gelu_tanh", 3>;
def MoE_ActSilu : I32EnumAttrCase<"silu", 4>;
def MoE_ActivationKind : I32EnumAttr<"ActivationKind", "expert activation",
    [MoE_ActIdentity, MoE_ActRelu, MoE_ActGelu, MoE_ActGeluTanh, MoE_ActSilu]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

def MoE_GatingNone : I32EnumAttrCase<"none", 0>;
def MoE_GatingInterleaved : I32EnumAttrCase<"interleaved", 1>;
def MoE_GatingConcatenated : I32EnumAttrCase<"concatenated", 2>;
def MoE_GatingSeparate : I32EnumAttrCase<"separate", 3>;
def MoE_Gating : I32EnumAttr<"Gating",
    "where the gate and up projections of a gated FFN live",
    [MoE_GatingNone, MoE_GatingInterleaved, MoE_GatingConcatenated,
     MoE_GatingSeparate]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

class MoE_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MoE_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def MoE_RoutingAttr : MoE_Attr<"Routing", "routing"> {
  let summary = "router configuration: scoring, top-k, groups, scaling";
  let description = [{
    Configures how router logits become per-token expert choices. For one
    token with logits `l[0..E)` (and optional per-expert bias `b`):

    1. Scores: `s = softmax(l)` over all `E` experts (computed with the
       maximum subtracted) for `softmax`, or `s = sigmoid(l)` elementwise for
       `sigmoid`.
    2. Selection scores: `sel = s + b` (`sel = s` without a bias). The bias
       only steers selection; it never enters the weights (DeepSeek-V3's
       auxiliary-loss-free balancing).
    3. Group-limited routing (`groups > 1`): the experts are split into
       `groups` contiguous groups of `E / groups`. A group's score is the
       maximum `sel` in it (`group_score = max`, DeepSeek-V2) or the sum of its
       two largest `sel` (`top2_sum`, DeepSeek-V3). The `topk_groups` groups
       with the largest scores are kept (ties: lower group index first) and
       every expert outside them gets `sel = masked_score` (default `-inf`;
       Hugging Face's DeepSeek-V3 block masks with `0.0`, which lets an
       outside expert win over kept ones whose `sel` is negative).
    4. Top-k: `ids[0..k)` are the `k` experts with the largest `sel`, in
       descending order of `sel`; ties go to the lower expert index.
    5. Weights: `w[j] = s[ids[j]]`. With `renormalize`,
       `w[j] = w[j] / sum_j w[j]`. Finally `w[j] = w[j] * scale`.

    `sparsemixer` (Phi-MoE's sparse mixer at inference, with a relative
    `gap`, twice its router jitter) replaces steps 1-5: pick j = 0..k-1 is
    the expert with the largest logit among those not picked yet (ties: lower
    index), `m` its logit; its weight is the softmax, at that expert, of the
    logits of the experts not picked yet whose relative gap
    `(m - l[x]) / max(|l[x]|, m)` is at most `gap` (the others masked):
    `w[j] = 1 / sum exp(l[x] - m)` over them. Then `renormalize` and `scale`
    apply as in step 5. It takes no bias and no groups.

    With `softmax`, `renormalize`, no bias, no groups and `scale = 1.0` this is
    exactly the routing of onnxruntime's `com.microsoft.MoE` with
    `normalize_routing_weights = 1` (Mixtral); without `renormalize` it is
    Qwen2-MoE's and OLMoE's.

    Syntax: `#moe.routing<softmax, k = 2, renormalize>`,
    `#moe.routing<sigmoid, k = 8, renormalize, groups = 8, topk_groups = 4,
    group_score = top2_sum, scale = 2.5>`, `#moe.routing<sparsemixer, k = 2,
    gap = 0.02>`. Defaults (omitted when printed): no renormalization,
    `groups = 1`, `topk_groups = 1`, `group_score = top2_sum`, `scale = 1.0`,
    `masked_score = -inf`, `gap = 0.0`.
  }];
  let parameters = (ins
    EnumParameter<MoE_Scoring>:$scoring,
    "int64_t":$k,
    "bool":$renormalize,
    "int64_t":$groups,
    "int64_t":$topkGroups,
    EnumParameter<MoE_GroupScore>:$groupScore,
    APFloatParameter<"routed scaling factor">:$scale,
    APFloatParameter<"selection score outside the kept groups">:$maskedScore,
    APFloatParameter<"sparse mixer's largest relative gap to the pick">:$gap
  );
  let builders = [
    AttrBuilder<(ins "Scoring":$scoring, "int64_t":$k, "bool":$renormalize), [{
      return $_get($_ctxt, scoring, k, renormalize, /*groups=*/1,
                   /*topkGroups=*/1, GroupScore::top2_sum,
                   ::llvm::APFloat(1.0),
                   ::llvm::APFloat::getInf(::llvm::APFloat::IEEEdouble(),
                                           /*Negative=*/true),
                   ::llvm::APFloat(0.0));
    }]>,
    AttrBuilder<(ins "Scoring":$scoring, "int64_t":$k, "bool":$renormalize,
                     "int64_t":$groups, "int64_t":$topkGroups,
                     "GroupScore":$groupScore, "::llvm::APFloat":$scale), [{
      return $_get($_ctxt, scoring, k, renormalize, groups, topkGroups,
                   groupScore, scale,
                   ::llvm::APFloat::getInf(::llvm::APFloat::IEEEdouble(),
                                           /*Negative=*/true),
                   ::llvm::APFloat(0.0));
    }]>
  ];
  let skipDefaultBuilders = 0;
  let genVerifyDecl = 1;
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    /// Number of experts each group holds, for `numExperts` experts.
    int64_t getGroupSize(int64_t numExperts) const {
      return numExperts / getGroups();
    }
    /// Checks the configuration against `numExperts` (and a selection bias
    /// when `hasBias`); reports via `emitError`.
    ::llvm::LogicalResult verifyForExperts(
        ::llvm::function_ref<::mlir::InFlightDiagnostic()> emitError,
        int64_t numExperts, bool hasBias) const;
  }];
}

def MoE_ActivationAttr : MoE_Attr<"Activation", "activation"> {
  let summary = "expert activation, optionally gated (GLU family)";
  let description = [{
    The function applied between an expert's first and second projection.

    Ungated (`gated = none`): `h = act(a)` elementwise, where `act` is
    `identity`, `relu` (`max(x, 0)`), `gelu` (exact, `0.5 x (1 + erf(x /
    sqrt(2)))`, PyTorch's default), `gelu_tanh` (`0.5 x (1 + tanh(0.7978845608
    (x + 0.044715 x^3)))`, onnxruntime's `gelu`) or `silu` (`x sigmoid(alpha
    x)`).

    Gated: the first projection yields a gate `g` and an up value `u` per
    output feature `i`:
    * `interleaved`: a row of width `2I` holds `g_i` at `2i` and `u_i` at
      `2i + 1` (onnxruntime `swiglu_fusion = 1`);
    * `concatenated`: `g_i` at `i`, `u_i` at `I + i` (`swiglu_fusion = 2`);
    * `separate`: `g` and `u` come from two projections (`fc1` / `fc3`,
      Mixtral's `w1` / `w3`).

    Then `g' = min(g, limit)`, `u' = clamp(u, -limit, limit)` and
    `h_i = act(g'_i) * (u'_i + beta)`. With the defaults `alpha = 1.0`,
    `beta = 0.0`, `limit = inf` and `silu` this is SwiGLU; onnxruntime's
    parameterized `swiglu` (gpt-oss: `alpha = 1.702`, `beta = 1.0`,
    `limit = 7.0`) is `silu` with those values. `alpha` other than 1 is only
    meaningful for `silu`; `beta` and `limit` only for gated activations.

    Syntax: `#moe.activation<relu>`, `#moe.activation<silu, gated =
    interleaved, alpha = 1.702, beta = 1.0, limit = 7.0>`.
  }];
  let parameters = (ins
    EnumParameter<MoE_ActivationKind>:$kind,
    EnumParameter<MoE_Gating>:$gating,
    APFloatParameter<"swish slope">:$alpha,
    APFloatParameter<"offset added to the up projection">:$beta,
    APFloatParameter<"clamp limit, +inf when unlimited">:$limit
  );
  let builders = [
    AttrBuilder<(ins "ActivationKind":$kind, "Gating":$gating), [{
      return $_get($_ctxt, kind, gating, ::llvm::APFloat(1.0),
                   ::llvm::APFloat(0.0), ::llvm::APFloat::getInf(
                       ::llvm::APFloat::IEEEdouble()));
    }]>
  ];
  let genVerifyDecl = 1;
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    bool isGated() const { return getGating() != Gating::none; }
    /// Width of the first projection's output for an intermediate size `I`.
    int64_t getFc1Width(int64_t inter) const {
      return (getGating() == Gating::interleaved ||
              getGating() == Gating::concatenated) ? 2 * inter : inter;
    }
  }];
}

#endif // MOE_ATTRS_TD
