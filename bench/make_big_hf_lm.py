"""Writes a transformers-exported Mixtral causal LM large enough to measure
compile memory (bench/README.md, "Weights files and model size"):
MixtralForCausalLM with random weights, exported by transformers' own
OnnxExporter (grouped_mm experts, dynamic sequence) with its weights in
external data. Defaults: hidden 1024, intermediate 3584, 8 experts, 4
layers (1.4 GB). Needs torch and transformers (run it with that venv).

usage: make_big_hf_lm.py OUT_DIR [--hidden H] [--inter I] [--layers L]
"""
import argparse
import os

import torch
import transformers


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--inter", type=int, default=3584)
    p.add_argument("--layers", type=int, default=4)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    config = transformers.MixtralConfig(
        vocab_size=1000, hidden_size=args.hidden,
        intermediate_size=args.inter, num_hidden_layers=args.layers,
        num_attention_heads=8, num_key_value_heads=4, num_local_experts=8,
        num_experts_per_tok=2, max_position_embeddings=512, use_cache=False,
        tie_word_embeddings=False)
    model = transformers.MixtralForCausalLM(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    from transformers.exporters.exporter_onnx import OnnxConfig, OnnxExporter
    import onnx_ir
    model.set_experts_implementation("grouped_mm")
    ids = torch.randint(0, 1000, (1, 5))
    exported = OnnxExporter().export(model, {"input_ids": ids},
                                     OnnxConfig(dynamic=True))
    name = "mixtral_big.hf.onnx"
    onnx_ir.save(exported.program, os.path.join(args.out, name),
                 external_data=name + ".data")
    print("wrote", os.path.join(args.out, name))


if __name__ == "__main__":
    main()
