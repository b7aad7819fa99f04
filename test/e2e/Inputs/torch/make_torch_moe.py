"""Writes the decomposed-MoE fixtures: small MoE blocks defined in plain
PyTorch with the math of the published models (Mixtral, OLMoE, Qwen2-MoE,
DeepSeek-V3, and near misses that are not MoE layers), exported by both
torch.onnx exporters. For each block NAME it writes NAME.torchscript.onnx,
NAME.dynamo.onnx (where that exporter succeeds) and NAME.npz holding a random
input `x` and PyTorch's output `y`. Tiny blocks (hidden 4) are also written
as ONNX text, tiny_NAME.KIND.onnxtxt, for lit tests that edit them.

Not run by the test suite (it needs torch); the files it writes are committed.
Usage: python make_torch_moe.py OUT_DIR
"""
import os
import re
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

H, I = 16, 32


class MLP(nn.Module):
    """A gated (SwiGLU) FFN as the Llama-family experts write it."""

    def __init__(self, hidden, inter):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class ReluMLP(nn.Module):
    """An ungated FFN (Switch Transformer's experts)."""

    def __init__(self, hidden, inter):
        super().__init__()
        self.wi = nn.Linear(hidden, inter, bias=False)
        self.wo = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.wo(F.relu(self.wi(x)))


def expert_loop(experts, hidden, selected, weights, num_experts):
    """The dispatch/combine loop of the Hugging Face MoE blocks."""
    final = torch.zeros_like(hidden)
    mask = F.one_hot(selected, num_classes=num_experts).permute(2, 1, 0)
    for e in range(num_experts):
        idx, top_x = torch.where(mask[e])
        state = hidden[None, top_x].reshape(-1, hidden.shape[-1])
        out = experts[e](state) * weights[top_x, idx, None]
        final.index_add_(0, top_x, out.to(hidden.dtype))
    return final


class SoftmaxTopK(nn.Module):
    """Mixtral (renormalize=True) and OLMoE / Qwen2-MoE (False) blocks, with
    an optional Qwen2-MoE shared expert behind a sigmoid gate."""

    def __init__(self, experts=4, k=2, renormalize=True, shared=0,
                 weight_from_logits=False, expert=MLP):
        super().__init__()
        self.num_experts, self.k, self.renormalize = experts, k, renormalize
        self.gate = nn.Linear(H, experts, bias=False)
        self.experts = nn.ModuleList(expert(H, I) for _ in range(experts))
        self.shared = MLP(H, shared) if shared else None
        self.shared_gate = nn.Linear(H, 1, bias=False) if shared else None
        # A near miss: weights taken from the logits, not the softmax.
        self.weight_from_logits = weight_from_logits

    def forward(self, x):
        b, s, h = x.shape
        x = x.view(-1, h)
        logits = self.gate(x)
        probs = F.softmax(logits, dim=1, dtype=torch.float)
        weights, selected = torch.topk(probs, self.k, dim=-1)
        if self.weight_from_logits:
            weights = logits.gather(1, selected)
        if self.renormalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = weights.to(x.dtype)
        out = expert_loop(self.experts, x, selected, weights, self.num_experts)
        if self.shared is not None:
            out = out + torch.sigmoid(self.shared_gate(x)) * self.shared(x)
        return out.reshape(b, s, h)


class DeepSeekV3(nn.Module):
    """DeepSeek-V3's block: sigmoid scores, selection bias, group-limited
    top-k over the sum of each group's two best, renormalized and scaled
    weights, and ungated shared experts."""

    def __init__(self, experts=8, k=2, groups=4, topk_groups=2, scale=2.5):
        super().__init__()
        self.num_experts, self.k = experts, k
        self.groups, self.topk_groups, self.scale = groups, topk_groups, scale
        self.weight = nn.Parameter(torch.randn(experts, H) * 0.5)
        # Non-negative, so a kept expert never scores below the masked 0.
        self.register_buffer("e_score_correction_bias", torch.rand(experts) * 0.1)
        self.experts = nn.ModuleList(MLP(H, I) for _ in range(experts))
        self.shared_experts = MLP(H, 2 * I)

    def route(self, x):
        logits = F.linear(x.float(), self.weight.float())
        scores = logits.sigmoid()
        choice = scores + self.e_score_correction_bias.unsqueeze(0)
        per_group = self.num_experts // self.groups
        group_scores = choice.view(-1, self.groups, per_group).topk(2, dim=-1)[0].sum(dim=-1)
        group_idx = torch.topk(group_scores, k=self.topk_groups, dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores)
        group_mask.scatter_(1, group_idx, 1)
        score_mask = group_mask.unsqueeze(-1).expand(-1, self.groups, per_group).reshape(-1, self.num_experts)
        masked = choice.masked_fill(~score_mask.bool(), 0.0)
        selected = torch.topk(masked, k=self.k, dim=-1, sorted=False)[1]
        weights = scores.gather(1, selected)
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
        return selected, weights * self.scale

    def forward(self, x):
        b, s, h = x.shape
        x = x.view(-1, h)
        selected, weights = self.route(x)
        out = expert_loop(self.experts, x, selected, weights.to(x.dtype), self.num_experts)
        return (out + self.shared_experts(x)).reshape(b, s, h)


def blocks():
    yield "mixtral", SoftmaxTopK(experts=4, k=2, renormalize=True)
    yield "olmoe", SoftmaxTopK(experts=8, k=3, renormalize=False)
    yield "qwen2_moe", SoftmaxTopK(experts=8, k=2, renormalize=False, shared=48)
    yield "deepseek_v3", DeepSeekV3()
    # Half precision: routing in f32 as the published blocks do it.
    yield "mixtral_f16", SoftmaxTopK(experts=4, k=2, renormalize=True)
    yield "deepseek_v3_f16", DeepSeekV3()
    # Near misses: close to a MoE block, but not one; they must stay dense.
    yield "near_logit_weights", SoftmaxTopK(experts=4, k=2, renormalize=False,
                                            weight_from_logits=True)


def tiny_blocks():
    yield "tiny_mixtral", lambda: SoftmaxTopK(experts=3, k=2, renormalize=True)
    yield "tiny_qwen2_moe", lambda: SoftmaxTopK(experts=2, k=1, renormalize=False, shared=4)
    yield "tiny_deepseek_v3", lambda: DeepSeekV3(experts=4, k=2, groups=2, topk_groups=1)
    yield "tiny_switch", lambda: SoftmaxTopK(experts=2, k=1, renormalize=False, expert=ReluMLP)


def as_text(path):
    """The model as ONNX text that older parsers read too (libonnx 1.12):
    plain identifiers, no node names, no value_info, floats with a point."""
    model = onnx.load(path)
    names = {}

    def fix(name):
        if name and name not in names:
            s = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "v"
            s = s if s[0].isalpha() else "v" + s
            base, i = s, 0
            while s in names.values():
                i += 1
                s = f"{base}_{i}"
            names[name] = s
        return names.get(name, name)

    g = model.graph
    for coll in (g.input, g.output, g.initializer):
        for v in coll:
            v.name = fix(v.name)
    for n in g.node:
        n.name = ""
        n.input[:] = [fix(i) for i in n.input]
        n.output[:] = [fix(o) for o in n.output]
    del g.value_info[:]
    del model.metadata_props[:]
    model.producer_name = model.producer_version = ""
    text = re.sub(r'\[""\] ', "", onnx.printer.to_text(model))
    return re.sub(r"(: float = -?\d+)(?=[,>])", r"\1.0", text)


def export(model, x, path, dynamo):
    kwargs = dict(input_names=["x"], output_names=["y"])
    if dynamo:
        batch = torch.export.Dim("batch", max=64)
        seq = torch.export.Dim("seq", max=4096)
        torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18,
                          dynamic_shapes={"x": {0: batch, 1: seq}}, **kwargs)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                          dynamic_axes={"x": {0: "batch", 1: "seq"},
                                        "y": {0: "batch", 1: "seq"}}, **kwargs)


def main():
    global H, I
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for seed, (name, model) in enumerate(blocks()):
        torch.manual_seed(seed)
        for p in model.parameters():
            nn.init.normal_(p, std=0.3)
        model.eval()
        x = torch.randn(2, 5, H)
        if name.endswith("_f16"):
            model, x = model.half(), x.half()
        with torch.no_grad():
            y = model(x)
            np.savez(os.path.join(out, name + ".npz"), x=x.numpy(), y=y.numpy())
            for dynamo in (False, True):
                kind = "dynamo" if dynamo else "torchscript"
                path = os.path.join(out, f"{name}.{kind}.onnx")
                try:
                    export(model, x, path, dynamo)
                except Exception as err:  # report and go on with the others
                    print(f"{name} ({kind}): export failed: {err}", file=sys.stderr)
                    if os.path.exists(path):
                        os.remove(path)
    H, I = 4, 4
    for seed, (name, make) in enumerate(tiny_blocks()):
        torch.manual_seed(100 + seed)
        model = make()
        for p in model.parameters():
            nn.init.normal_(p, std=0.3)
        model.eval()
        x = torch.randn(1, 3, H)
        with torch.no_grad():
            for dynamo in (False, True):
                kind = "dynamo" if dynamo else "torchscript"
                path = os.path.join(out, "tmp.onnx")
                export(model, x, path, dynamo)
                with open(os.path.join(out, f"{name}.{kind}.onnxtxt"), "w") as f:
                    f.write(as_text(path))
                for leftover in (path, path + ".data"):
                    if os.path.exists(leftover):
                        os.remove(leftover)


if __name__ == "__main__":
    main()
