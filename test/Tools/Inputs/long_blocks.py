"""Writes an LLVM-dialect module with two functions of N chained calls:
@chain, one straight-line block, and @loop, the same calls as the body of
a loop (which code generation must keep whole: it is a kernel's)."""
import sys

n = int(sys.argv[1])
out = ["llvm.func @step(i64, i64) -> i64",
       "llvm.func @chain(%a: i64, %b: i64) -> i64 {",
       "  %v0 = llvm.call @step(%a, %b) : (i64, i64) -> i64"]
out += [f"  %v{i} = llvm.call @step(%v{i - 1}, %b) : (i64, i64) -> i64"
        for i in range(1, n)]
out += [f"  llvm.return %v{n - 1} : i64", "}",
        "llvm.func @loop(%a: i64, %b: i64) -> i64 {",
        "  llvm.br ^body(%a : i64)",
        "^body(%x: i64):",
        "  %w0 = llvm.call @step(%x, %b) : (i64, i64) -> i64"]
out += [f"  %w{i} = llvm.call @step(%w{i - 1}, %b) : (i64, i64) -> i64"
        for i in range(1, n)]
out += ["  %zero = llvm.mlir.constant(0 : i64) : i64",
        f"  %done = llvm.icmp \"eq\" %w{n - 1}, %zero : i64",
        f"  llvm.cond_br %done, ^exit, ^body(%w{n - 1} : i64)",
        "^exit:",
        f"  llvm.return %w{n - 1} : i64", "}"]
print("\n".join(out))
