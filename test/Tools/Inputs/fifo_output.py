"""Runs `moe-opt ARGS -o FIFO` with a reader on the FIFO; prints whether the
FIFO is still one afterwards and how many bytes came through it.

usage: fifo_output.py WORKDIR MOE-OPT-ARGS...
"""
import os
import stat
import subprocess
import sys
import threading

work = sys.argv[1]
os.makedirs(work, exist_ok=True)
fifo = os.path.join(work, "out.fifo")
if os.path.exists(fifo):
    os.remove(fifo)
os.mkfifo(fifo)
got = []
reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
reader.start()
rc = subprocess.run(["moe-opt", *sys.argv[2:], "-o", fifo]).returncode
reader.join(timeout=60)
print(f"rc {rc}, still a fifo: {stat.S_ISFIFO(os.stat(fifo).st_mode)}, "
      f"bytes: {len(got[0]) if got else 0}")
print("leftovers:", sorted(f for f in os.listdir(work) if f != "out.fifo"))
