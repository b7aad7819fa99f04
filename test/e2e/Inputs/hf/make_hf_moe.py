"""Writes the Hugging Face transformers fixtures: MoE blocks and small causal
LMs built from transformers' own model classes (random weights from small
configs), exported to ONNX the ways users export them, with PyTorch's
outputs saved for the tests to compare against.

Needs torch, transformers (5.x), onnx and onnxscript; the test suite only
reads what this writes. Exports per block (`<family>.<export>.onnx`):

  ts_eager    torch.onnx.export(dynamo=False), experts "eager": the loop
              over the experts hit by the tracing input is unrolled (the
              trace input has 2 tokens, so experts are missing) and their
              token counts are baked in.
  ts_bmm      torch.onnx.export(dynamo=False), experts "batched_mm".
  dynamo_bmm  torch.onnx.export(dynamo=True), experts "batched_mm" (the
              eager loop does not export under torch.export: its trip count
              is data-dependent).

Families whose experts do not use transformers' experts interface (DBRX,
JetMoE, Llama4, Switch) have one forward: `<family>.ts.onnx` and
`<family>.dynamo.onnx` (when torch.export takes it).

Each `<family>.npz` holds `x0`/`y0` (the tracing input, 2 tokens) and
`x1`/`y1` (13 tokens, routed to other experts).

Causal LMs (`<family>_lm.dynamo.onnx`, `<family>_lm.npz` with int64
input_ids x0/x1 and the logits y0/y1): 2 decoder layers (attention with
rotary embeddings, RMSNorm, a MoE block, the LM head), batched_mm experts,
use_cache=False, exported with the dynamo exporter (the TorchScript exporter
refuses their mask construction: aten::diff), and with transformers' own
OnnxExporter (`OnnxConfig(dynamic=True)`) three ways: `hf` (the default
grouped_mm experts), `hf_ort_cpu` and `hf_ort_cuda` (`ort_fusions`, which
writes onnxruntime's com.microsoft contrib ops).

usage: make_hf_moe.py [--out DIR] [--families a,b] [--exports a,b]
                      [--lms a,b]
"""
import argparse
import importlib
import inspect
import os
import warnings

import numpy as np
import torch
import transformers

warnings.filterwarnings("ignore")

H = 16  # hidden size of every block
# family: (config class, module, block class, config kwargs)
FAMILIES = {
    "mixtral": ("MixtralConfig", "mixtral", "MixtralSparseMoeBlock",
                dict(hidden_size=H, intermediate_size=32, num_local_experts=8,
                     num_experts_per_tok=2)),
    "qwen2_moe": ("Qwen2MoeConfig", "qwen2_moe", "Qwen2MoeSparseMoeBlock",
                  dict(hidden_size=H, moe_intermediate_size=32,
                       shared_expert_intermediate_size=48, num_experts=8,
                       num_experts_per_tok=2)),
    "qwen3_moe": ("Qwen3MoeConfig", "qwen3_moe", "Qwen3MoeSparseMoeBlock",
                  dict(hidden_size=H, moe_intermediate_size=32, num_experts=8,
                       num_experts_per_tok=2)),
    "olmoe": ("OlmoeConfig", "olmoe", "OlmoeSparseMoeBlock",
              dict(hidden_size=H, intermediate_size=32, num_experts=8,
                   num_experts_per_tok=2)),
    "deepseek_v3": ("DeepseekV3Config", "deepseek_v3", "DeepseekV3MoE",
                    dict(hidden_size=H, moe_intermediate_size=32,
                         n_routed_experts=8, num_experts_per_tok=2, n_group=4,
                         topk_group=2, n_shared_experts=1,
                         routed_scaling_factor=2.5)),
    "gpt_oss": ("GptOssConfig", "gpt_oss", "GptOssMLP",
                dict(hidden_size=H, intermediate_size=32, num_local_experts=8,
                     num_experts_per_tok=2)),
    # (A jitter of 0.25 keeps experts within a relative gap of 0.5 of each
    # pick in its softmax: with the default 0.01 the random logits almost
    # always leave the pick alone and weight it 1.)
    "phimoe": ("PhimoeConfig", "phimoe", "PhimoeSparseMoeBlock",
               dict(hidden_size=H, intermediate_size=32, num_local_experts=8,
                    num_experts_per_tok=2, router_jitter_noise=0.25)),
    "granitemoe": ("GraniteMoeConfig", "granitemoe", "GraniteMoeMoE",
                   dict(hidden_size=H, intermediate_size=32,
                        num_local_experts=8, num_experts_per_tok=2)),
    "qwen3_next": ("Qwen3NextConfig", "qwen3_next", "Qwen3NextSparseMoeBlock",
                   dict(hidden_size=H, moe_intermediate_size=32,
                        shared_expert_intermediate_size=48, num_experts=8,
                        num_experts_per_tok=2)),
    "dbrx": ("DbrxConfig", "dbrx", "DbrxFFN",
             dict(d_model=H, ffn_config=dict(ffn_hidden_size=32,
                                             moe_num_experts=8, moe_top_k=2))),
    "jetmoe": ("JetMoeConfig", "jetmoe", "JetMoeMoE",
               dict(hidden_size=H, intermediate_size=32, num_local_experts=8,
                    num_experts_per_tok=2)),
    "llama4": ("Llama4TextConfig", "llama4", "Llama4TextMoe",
               dict(hidden_size=H, intermediate_size=32, num_local_experts=8,
                    num_experts_per_tok=1)),
    "switch": ("SwitchTransformersConfig", "switch_transformers",
               "SwitchTransformersSparseMLP",
               dict(d_model=H, d_ff=32, num_experts=8, expert_capacity=64)),
}
EXPORTS = ("ts_eager", "ts_bmm", "dynamo_bmm")


def make_block(family, dtype):
    cfg_name, module, cls, kwargs = FAMILIES[family]
    config = getattr(transformers, cfg_name)(**kwargs)
    mod = importlib.import_module(
        f"transformers.models.{module}.modeling_{module}")
    torch.manual_seed(0)
    block = getattr(mod, cls)(config).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return block.to(dtype), config


class Wrapped(torch.nn.Module):
    """The block with one tensor output (some return (y, router_logits))."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        y = self.block(x)
        return y[0] if isinstance(y, tuple) else y


def export(model, x, path, dynamo):
    if dynamo:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
        torch.onnx.export(model, (x,), path, input_names=["x"],
                          output_names=["y"], dynamo=True,
                          dynamic_shapes={"x": {1: seq}},
                          external_data=False)
    else:
        torch.onnx.export(model, (x,), path, input_names=["x"],
                          output_names=["y"], dynamo=False,
                          dynamic_axes={"x": {1: "seq"}, "y": {-2: "seq"}})


LM_COMMON = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=64,
                 use_cache=False, tie_word_embeddings=False)
# family: (config class, model class, config kwargs)
LMS = {
    "mixtral": ("MixtralConfig", "MixtralForCausalLM",
                dict(intermediate_size=64, num_local_experts=4,
                     num_experts_per_tok=2, num_key_value_heads=2)),
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM",
                  dict(intermediate_size=64, moe_intermediate_size=32,
                       num_experts=4, num_experts_per_tok=2,
                       num_key_value_heads=2, head_dim=8)),
    "olmoe": ("OlmoeConfig", "OlmoeForCausalLM",
              dict(intermediate_size=32, num_experts=4, num_experts_per_tok=2,
                   num_key_value_heads=2)),
    "gpt_oss": ("GptOssConfig", "GptOssForCausalLM",
                dict(intermediate_size=32, num_local_experts=4,
                     num_experts_per_tok=2, num_key_value_heads=2, head_dim=8,
                     sliding_window=16,
                     layer_types=["sliding_attention", "full_attention"])),
}


class Logits(torch.nn.Module):
    """input_ids -> logits of a causal LM (no cache, no mask input)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False).logits


def write_lm(family, out):
    cfg_name, cls, kwargs = LMS[family]
    config = getattr(transformers, cfg_name)(**LM_COMMON, **kwargs)
    config._experts_implementation = "batched_mm"
    torch.manual_seed(0)
    model = getattr(transformers, cls)(config).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    lm = Logits(model)
    ids0 = torch.randint(0, 128, (1, 5), generator=gen)
    ids1 = torch.randint(0, 128, (1, 9), generator=gen)
    path = os.path.join(out, f"{family}_lm.dynamo.onnx")
    torch.onnx.export(lm, (ids0,), path, input_names=["input_ids"],
                      output_names=["logits"], dynamo=True,
                      dynamic_shapes={"input_ids": {1: torch.export.Dim("seq")}},
                      external_data=False)
    print("wrote", path)
    with torch.no_grad():
        np.savez(os.path.join(out, f"{family}_lm.npz"), x0=ids0.numpy(),
                 y0=lm(ids0).numpy(), x1=ids1.numpy(), y1=lm(ids1).numpy())
    # transformers' own exporter, as its documentation shows it, on the
    # model's default experts ("grouped_mm"); with ort_fusions it writes
    # onnxruntime's contrib ops ("cuda" also turns the experts into
    # com.microsoft.MoE).
    from transformers.exporters.exporter_onnx import OnnxConfig, OnnxExporter
    import onnx_ir
    model.set_experts_implementation("grouped_mm")
    for fusions in [None, "cpu", "cuda"]:
        name = "hf" + (f"_ort_{fusions}" if fusions else "")
        path = os.path.join(out, f"{family}_lm.{name}.onnx")
        exported = OnnxExporter().export(
            model, {"input_ids": ids0},
            OnnxConfig(dynamic=True, ort_fusions=fusions))
        onnx_ir.save(exported.program, path)
        print("wrote", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--exports", default=",".join(EXPORTS))
    p.add_argument("--f16", default="mixtral,qwen3_moe,deepseek_v3,gpt_oss",
                   help="families also written in float16 (<family>_f16.*)")
    p.add_argument("--lms", default=",".join(LMS),
                   help="causal LMs to write (empty: none)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for family in filter(None, args.lms.split(",")):
        write_lm(family, args.out)
    f16 = set(args.f16.split(",")) if args.f16 else set()
    for family in args.families.split(","):
        for dtype in [torch.float32] + ([torch.float16] if family in f16 else []):
            name = family + ("_f16" if dtype == torch.float16 else "")
            block, config = make_block(family, dtype)
            model = Wrapped(block)
            gen = torch.Generator().manual_seed(2)
            x0 = torch.randn(1, 2, H, generator=gen).to(dtype)
            x1 = torch.randn(1, 13, H, generator=gen).to(dtype)
            saved = {}
            # Experts behind transformers' experts interface take the
            # implementation from the config; the others have one forward.
            interface = any(hasattr(m, "has_gate") for m in block.modules())
            exports = args.exports.split(",") if interface else ["ts", "dynamo"]
            for exp in exports:
                config._experts_implementation = (
                    "batched_mm" if exp.endswith("bmm") else "eager")
                with torch.no_grad():
                    ys = [model(x0), model(x1)]
                path = os.path.join(args.out, f"{name}.{exp}.onnx")
                try:
                    export(model, x0, path, exp.startswith("dynamo"))
                    print("wrote", path)
                except Exception as e:  # an export the exporter refuses
                    print(f"{name}.{exp}: export failed: {type(e).__name__}: "
                          f"{str(e).splitlines()[0][:200]}")
                    continue
                if not saved:
                    saved = dict(x0=x0.numpy(), y0=ys[0].numpy(),
                                 x1=x1.numpy(), y1=ys[1].numpy())
            if saved:
                np.savez(os.path.join(args.out, f"{name}.npz"), **saved)


if __name__ == "__main__":
    main()
