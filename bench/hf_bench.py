"""Times models exported from Hugging Face transformers: the same .onnx file
compiled by moe-opt (--moe-cpu-pipeline --emit=shared, run by moe-run
--benchmark) and run by onnxruntime's CPU provider, same thread count, same
inputs, alternating rounds in one run. Prints per model and token count
the median times and the ratio (onnxruntime time / ours; above 1 means we
are faster) and, for raised models, how many blocks were raised.

Models: the committed fixtures (test/e2e/Inputs/hf, tiny: hidden 16-32)
by default, or the larger ones that --generate writes (needs torch and
transformers; run it with that Python):

  /path/to/torch-venv/bin/python bench/hf_bench.py --generate /tmp/hfbench
  .venv/bin/python bench/hf_bench.py --models /tmp/hfbench/*.onnx

usage: hf_bench.py [--models A.onnx,B.onnx | --generate DIR]
                   [--tokens 1,16,256] [--threads N] [--runs N] [--rounds N]
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
FIXTURES = os.path.join(ROOT, "test", "e2e", "Inputs", "hf")
DEFAULT = ["mixtral.dynamo_bmm", "mixtral.ts_bmm", "qwen3_moe.dynamo_bmm",
           "deepseek_v3.dynamo_bmm", "gpt_oss.dynamo_bmm",
           "mixtral_lm.dynamo", "mixtral_lm.hf", "mixtral_lm.hf_ort_cuda",
           "qwen3_moe_lm.hf", "gpt_oss_lm.dynamo"]

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--models", default="")
p.add_argument("--generate", metavar="DIR")
p.add_argument("--tokens", default="1,16,256")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--runs", type=int, default=10)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--workdir")
args = p.parse_args()
os.environ["OMP_NUM_THREADS"] = str(args.threads)


def generate(out):
    """Mixtral- and Qwen3-shaped blocks (batched_mm, dynamo) and a Mixtral
    LM (transformers' OnnxExporter and torch.onnx dynamo), larger than the
    test fixtures."""
    import torch
    import transformers
    sys.path.insert(0, FIXTURES)
    from make_hf_moe import Logits, Wrapped, export

    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)

    def init(module):
        # A bare block's parameters are uninitialized memory.
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape) * 0.05)

    blocks = {
        "mixtral_512": (transformers.MixtralConfig(
            hidden_size=512, intermediate_size=1024, num_local_experts=8,
            num_experts_per_tok=2),
            transformers.models.mixtral.modeling_mixtral.MixtralSparseMoeBlock),
        "qwen3_moe_512": (transformers.Qwen3MoeConfig(
            hidden_size=512, moe_intermediate_size=128, num_experts=64,
            num_experts_per_tok=6, norm_topk_prob=True),
            transformers.models.qwen3_moe.modeling_qwen3_moe
            .Qwen3MoeSparseMoeBlock),
    }
    for name, (config, cls) in blocks.items():
        config._experts_implementation = "batched_mm"
        block = cls(config).eval()
        init(block)
        x = torch.randn(1, 4, config.hidden_size)
        export(Wrapped(block), x, os.path.join(out, f"{name}.dynamo_bmm.onnx"),
               True)
    config = transformers.MixtralConfig(
        vocab_size=1000, hidden_size=256, intermediate_size=512,
        num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=4,
        num_local_experts=8, num_experts_per_tok=2, max_position_embeddings=512,
        use_cache=False, tie_word_embeddings=False)
    model = transformers.MixtralForCausalLM(config).eval()
    init(model)
    ids = torch.randint(0, 1000, (1, 5))
    config._experts_implementation = "batched_mm"
    torch.onnx.export(Logits(model), (ids,),
                      os.path.join(out, "mixtral_lm_256.dynamo.onnx"),
                      input_names=["input_ids"], output_names=["logits"],
                      dynamo=True, external_data=False,
                      dynamic_shapes={"input_ids": {1: torch.export.Dim("seq")}})
    from transformers.exporters.exporter_onnx import OnnxConfig, OnnxExporter
    import onnx_ir
    model.set_experts_implementation("grouped_mm")
    exported = OnnxExporter().export(model, {"input_ids": ids},
                                     OnnxConfig(dynamic=True))
    onnx_ir.save(exported.program, os.path.join(out, "mixtral_lm_256.hf.onnx"))
    print("wrote", sorted(glob.glob(os.path.join(out, "*.onnx"))))


def main():
    if args.generate:
        generate(args.generate)
        return
    import numpy as np
    import onnx
    import onnxruntime as ort
    from alternating import alternate

    models = ([m for m in args.models.split(",") if m] if args.models else
              [os.path.join(FIXTURES, m + ".onnx") for m in DEFAULT])
    work = args.workdir or tempfile.mkdtemp(prefix="hf-bench-")
    print(f"threads: {args.threads}")
    print(f"{'model':32} {'raised':>6} {'tokens':>6} {'ours_ms':>9} "
          f"{'ort_ms':>9} {'ort/ours':>9}")
    ratios = []
    for path in models:
        name = os.path.basename(path)[:-len(".onnx")]
        lib = os.path.join(work, name + ".so")
        mlir = subprocess.run([os.path.join(BIN, "moe-opt"), path,
                               "--onnx-remarks=false"], check=True,
                              capture_output=True, text=True).stdout
        raised = len(re.findall(r"= moe.layer ", mlir))
        subprocess.run([os.path.join(BIN, "moe-opt"), path,
                        "--onnx-remarks=false", "--moe-cpu-pipeline",
                        "--emit=shared", "-o", lib], check=True)
        graph = onnx.load(path, load_external_data=False).graph
        inp = graph.input[0]
        is_ids = inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so,
                                    providers=["CPUExecutionProvider"])
        elem = {onnx.TensorProto.FLOAT: np.float32,
                onnx.TensorProto.FLOAT16: np.float16}
        for t in [int(x) for x in args.tokens.split(",")]:
            rng = np.random.default_rng(1)
            if is_ids:
                x = rng.integers(0, 100, (1, t)).astype(np.int64)
            else:
                x = rng.standard_normal((1, t, dims[-1])).astype(
                    elem[inp.type.tensor_type.elem_type])
            npy = os.path.join(work, "x.npy")
            np.save(npy, x)
            feeds = {inp.name: x}
            try:
                sess.run(None, feeds)
            except Exception as e:  # a trace-specialized export
                print(f"{name:32} {raised:>6} {t:>6}  onnxruntime fails: "
                      f"{str(e).splitlines()[0][:60]}")
                continue
            ours, theirs = alternate(lib, [npy], sess, feeds, args.threads,
                                     args.runs, args.rounds, pause=0.3)
            ratios.append(theirs / ours)
            print(f"{name:32} {raised:>6} {t:>6} {ours:>9.3f} {theirs:>9.3f} "
                  f"{theirs / ours:>9.2f}")
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(f"geomean ort/ours: {geo:.2f}")


main()
