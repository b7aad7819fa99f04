"""Checks the Depends of the Debian package against what its binaries load:
every library an ELF file in the unpacked package needs directly (NEEDED),
and that the package does not ship itself, must come from a Debian package
named in Depends; every package Depends names first must exist here.

usage: check_deb.py PACKAGE.deb UNPACKED_ROOT
"""
import os
import re
import subprocess
import sys

deb, root = sys.argv[1], sys.argv[2]


def out(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          text=True).stdout


depends = out("dpkg-deb", "-f", deb, "Depends").strip()
# Each clause is `a (>= v) | b`; any alternative satisfies it.
declared = set()
first_choices = []
for clause in depends.split(","):
    names = [re.sub(r"\(.*?\)", "", alt).strip() for alt in clause.split("|")]
    declared.update(names)
    first_choices.append(names[0])

failures = 0
shipped = set()
elves = []
for dirpath, _, files in os.walk(root):
    for f in files:
        path = os.path.join(dirpath, f)
        shipped.add(f)
        if os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            if fh.read(4) == b"\x7fELF":
                elves.append(path)

if not elves:
    print("FAILED: no ELF files in the package")
    failures += 1

needed_by = {}
for elf in elves:
    for line in out("objdump", "-p", elf).splitlines():
        m = re.match(r"\s+NEEDED\s+(\S+)", line)
        if m and m.group(1) not in shipped:
            needed_by.setdefault(m.group(1), set()).add(elf)

for lib, users in sorted(needed_by.items()):
    user = sorted(users)[0]
    resolved = None
    for line in out("ldd", user).splitlines():
        m = re.match(r"\s+(\S+) => (\S+)", line)
        if m and m.group(1) == lib:
            resolved = m.group(2)
        m = re.match(r"\s+(/\S+) \(", line)  # the dynamic loader: no "=>"
        if m and os.path.basename(m.group(1)) == lib:
            resolved = m.group(1)
    if not resolved:
        print(f"{lib}: FAILED not found for {os.path.relpath(user, root)}")
        failures += 1
        continue
    package = None
    # The file itself first: a RUNPATH may reach it through another
    # package's symlink (llvm-22-dev's /usr/lib/llvm-22/lib/libLLVM.so.22.1),
    # and the loader's default path finds it without that package.
    for path in (os.path.realpath(resolved), resolved):
        found = subprocess.run(["dpkg", "-S", path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        if found.returncode == 0:
            package = found.stdout.split(":")[0].strip()
            break
    ok = package in declared
    print(f"{lib}: {package} {'ok' if ok else 'FAILED (not in Depends)'}")
    failures += not ok

for name in first_choices:
    known = subprocess.run(["dpkg-query", "-W", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL).returncode == 0
    if not known:
        print(f"depends on {name}: FAILED (no such package installed here)")
        failures += 1

print(f"{len(elves)} ELF files, {len(needed_by)} system libraries, "
      f"{failures} failed")
sys.exit(1 if failures else 0)
