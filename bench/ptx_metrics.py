#!/usr/bin/env python3
"""Static metrics of the GEMM kernels in a PTX file (`moe-opt --emit=ptx`).

For every kernel with mma or wgmma instructions (a wgmma m64nNk16 counted
as the N / 8 mma.sync m16n8k16 per warp it replaces): the steady-state
main loop (the
cycle of basic blocks through the mma block, without blocks that load from
global memory with scalar loads, which are the fallback for misaligned
operands), its instructions per mma, and the instruction mix; whether the
kernel uses cp.async, ldmatrix and 128-bit global loads; with --ptxas, the
registers, spills and static shared memory ptxas reports for --arch, and
"+ dynamic" where the kernel also uses dynamic shared memory (sized at
launch).

usage: ptx_metrics.py FILE.ptx [--ptxas PATH] [--arch sm_80] [--max-ratio R]
--max-ratio exits 1 when a main loop exceeds R instructions per mma.
"""
import argparse
import re
import subprocess
import sys


def kernels(text):
    # A kernel runs to the next one: inline PTX blocks (wgmma) also close
    # with a brace in the first column.
    starts = list(re.finditer(r"\.entry (\w+)\(", text))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        yield m.group(1), text[m.end():end]


def statements(body):
    body = re.sub(r"//[^\n]*", "", body)
    out = []
    for s in body.split(";"):
        s = s.strip().lstrip("{").strip()
        if s and not s.startswith((".", "}")):
            out.append(s)
    return out


def blocks(body):
    """[(label, [statements])] in order; the entry block is 'entry'."""
    parts = re.split(r"\n(\$L__\w+):", body)
    result = [("entry", statements(parts[0]))]
    for i in range(1, len(parts) - 1, 2):
        result.append((parts[i], statements(parts[i + 1])))
    return result


def opcode(s):
    w = s.split()
    return w[1] if w[0].startswith("@") else w[0]


def successors(bs):
    succ = {}
    for i, (label, ins) in enumerate(bs):
        out = set()
        falls = True
        for s in ins:
            op = opcode(s)
            if op.startswith("bra"):
                out.add(s.split()[-1])
                if not s.startswith("@"):
                    falls = False
            if op.startswith(("ret", "exit")) and not s.startswith("@"):
                falls = False
        if falls and i + 1 < len(bs):
            out.add(bs[i + 1][0])
        succ[label] = out
    return succ


def reachable(start, succ, allowed):
    seen, stack = set(), [start]
    while stack:
        b = stack.pop()
        for n in succ.get(b, ()):
            if n in allowed and n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


def mma_weight(op):
    """m16n8k16 mma.sync instructions a warp issues for the same work: 1 for
    mma.sync; a wgmma.mma_async m64nNk16 does 64 x N x 16 for its 4 warps,
    N / 8 per warp; 0 otherwise."""
    if op.startswith("mma"):
        return 1
    m = re.match(r"wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16", op)
    return int(m.group(1)) // 8 if m else 0


def is_copy(op):
    return op.startswith(("cp.async.ca", "cp.async.cg"))


def main_loop(bs):
    """The blocks of the steady-state cycle through the first mma block:
    where the loop stages operands both by cp.async and by scalar global
    loads (the fallback for misaligned operands), the cp.async path."""
    by_label = dict(bs)
    mma = next((l for l, ins in bs if any(mma_weight(opcode(s))
                                          for s in ins)), None)
    if mma is None:
        return []
    succ = successors(bs)
    pred = {}
    for l, outs in succ.items():
        for n in outs:
            pred.setdefault(n, set()).add(l)

    def cycle(allowed):
        loop = ((reachable(mma, succ, allowed) | {mma}) &
                (reachable(mma, pred, allowed) | {mma}))
        return [(l, by_label[l]) for l, _ in bs if l in loop]

    loop = cycle(set(by_label))
    scalar = {l for l, ins in loop
              if l != mma and any(opcode(s).startswith("ld.global") and
                                  ".v4" not in opcode(s) for s in ins)}
    if scalar and any(is_copy(opcode(s)) for _, ins in loop for s in ins):
        loop = cycle(set(by_label) - scalar)
    return loop


def mix(ins):
    counts = {}
    for s in ins:
        op = opcode(s)
        key = op.split(".")[0]
        if op.startswith("cp.async"):
            key = "cp.async"
        elif op.startswith(("ld.global", "ld.shared", "st.shared", "st.global")):
            key = ".".join(op.split(".")[:2])
        counts[key] = counts.get(key, 0) + 1
    return counts


def ptxas_info(ptxas, path, arch):
    out = subprocess.run([ptxas, f"-arch={arch}", "-v", path, "-o", "/dev/null"],
                         capture_output=True, text=True)
    info, current = {}, None
    for line in (out.stdout + out.stderr).splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            current = m.group(1)
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and current:
            info.setdefault(current, {})["spills"] = int(m.group(1)) + int(m.group(2))
        m = re.search(r"Used (\d+) registers(?:.*?(\d+) bytes smem)?", line)
        if m and current:
            info.setdefault(current, {})["registers"] = int(m.group(1))
            info[current]["smem"] = int(m.group(2) or 0)
    if out.returncode:
        sys.exit(f"ptxas failed:\n{out.stderr}")
    return info


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ptx")
    p.add_argument("--ptxas")
    p.add_argument("--arch", default="sm_80")
    p.add_argument("--max-ratio", type=float)
    args = p.parse_args()
    text = open(args.ptx).read()
    info = ptxas_info(args.ptxas, args.ptx, args.arch) if args.ptxas else {}
    worst = 0.0
    dynamic = re.findall(r"\.extern \.shared [^;]*?(\w+)\[\]", text)
    for name, body in kernels(text):
        bs = blocks(body)
        every = [s for _, ins in bs for s in ins]
        if not any(mma_weight(opcode(s)) for s in every):
            continue
        loop = main_loop(bs)
        ins = [s for _, b in loop for s in b]
        n_mma = sum(mma_weight(opcode(s)) for s in ins)
        n_wgmma = sum(opcode(s).startswith("wgmma.mma_async") for s in ins)
        ratio = len(ins) / n_mma if n_mma else float("inf")
        worst = max(worst, ratio)
        uses = [u for u, pre in (("cp.async", ("cp.async.ca", "cp.async.cg")),
                                 ("ldmatrix", ("ldmatrix",)),
                                 ("wgmma", ("wgmma.mma_async",)),
                                 ("ld.global.v4", ("ld.global.v4",
                                                   "ld.global.nc.v4")))
                if any(opcode(s).startswith(pre) for s in every)]
        what = (f"{n_wgmma} wgmma ({n_mma} mma-equivalent per warp)"
                if n_wgmma else f"{n_mma} mma")
        line = (f"{name}: main loop {len(ins)} instructions, {what}, "
                f"{ratio:.2f} per mma; uses {', '.join(uses) or 'none of cp.async, ldmatrix, ld.global.v4'}")
        if name in info:
            k = info[name]
            line += (f"; {args.arch}: {k.get('registers')} registers, "
                     f"{k.get('spills', 0)} spill bytes, {k.get('smem', 0)} bytes smem")
            if any(re.search(rf"\b{d}\b", body) for d in dynamic):
                line += " + dynamic"
        print(line)
        print("  mix: " + ", ".join(f"{k} {v}" for k, v in
                                    sorted(mix(ins).items(), key=lambda x: -x[1])))
    if args.max_ratio is not None and worst > args.max_ratio:
        print(f"a main loop has {worst:.2f} instructions per mma, over "
              f"{args.max_ratio}")
        sys.exit(1)


if __name__ == "__main__":
    main()
