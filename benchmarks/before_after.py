"""Two or more installed builds of tfrconv on the same VOC conversion, alternating run by run.

    VOC_DATA=/tmp/tfrconv-bench/voc-2000 python benchmarks/before_after.py [N]

Each build is a venv with tfrconv installed from a wheel (`python -m venv V && V/bin/pip
install -c requirements/constraints.txt .` at the commit to measure); set VENVS below. Prints
best and median wall and CPU (user + system of the process and its workers) per build, the
ratios to the first, the load average, and whether every build wrote the same bytes. The VOC
set is the one `python benchmarks/run.py` generates and caches.
"""
import filecmp
import os
import resource
import shutil
import subprocess
import sys
import time

DATA = os.environ.get("VOC_DATA", "/tmp/tfrconv-bench/voc-2000")
VENVS = {"before": "/tmp/basevenv", "issue12": "/tmp/midvenv", "after": "/tmp/newvenv"}
OUT = "/tmp/tfrconv-before-after"
N = int(sys.argv[1]) if len(sys.argv) > 1 else 7
env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed

def run(venv, out):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [f"{venv}/bin/tfrconv", "voc", "--data-dir", DATA, "--set", "train", "--label-map",
           "pascal", "--output", f"{out}/voc.record"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

results = {name: [] for name in VENVS}
for _ in range(2):                         # warm page cache and bytecode
    for name, venv in VENVS.items():
        run(venv, f"{OUT}/{name}")
load0 = os.getloadavg()
for _ in range(N):
    for name, venv in VENVS.items():
        results[name].append(run(venv, f"{OUT}/{name}"))
load1 = os.getloadavg()
same = all(filecmp.cmp(f"{OUT}/before/voc.record", f"{OUT}/{n}/voc.record", shallow=False)
           for n in VENVS)
for name, runs in results.items():
    walls = sorted(w for w, _ in runs)
    cpus = sorted(c for _, c in runs)
    print(f"{name:7s} wall best {walls[0]:.3f} s median {walls[len(walls)//2]:.3f} s | "
          f"CPU best {cpus[0]:.3f} s median {cpus[len(cpus)//2]:.3f} s")
b = results["before"]
for name, a in results.items():
    if name == "before":
        continue
    print(f"{name}/before: wall best {min(w for w,_ in a)/min(w for w,_ in b):.2f}, "
          f"CPU best {min(c for _,c in a)/min(c for _,c in b):.2f}, CPU median "
          f"{sorted(c for _,c in a)[N//2]/sorted(c for _,c in b)[N//2]:.2f}")
print(f"records byte-identical: {same}; load average {load0[0]:.1f} -> {load1[0]:.1f}; N={N}")
