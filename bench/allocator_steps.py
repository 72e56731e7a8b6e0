"""Training steps with glibc's allocator at its defaults and with freed memory retained, one process each.

The trainer calls :func:`contrarec.train.allocator.retain_freed_memory` at start. Whether it pays shows only
in a process that trains one recipe, as a run does (in ``graph_propagation.py`` the interleaved recipes keep
each other's blocks alive), so each (recipe, setting) runs in a fresh subprocess: ``--warmup`` steps, then
``--steps`` timed steps at the recipe's defaults on Yelp2018, with the minor page faults per step. The two
settings alternate, ``--rounds`` times. Results go to ``bench/results/allocator_steps.jsonl``.

    .venv/bin/python bench/allocator_steps.py [--recipes lightgcn,xsimgcl,simgcl,sgl-ed] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
import torch
from contrarec.train.allocator import retain_freed_memory
recipe, retain, threads, warmup, steps, dataset = sys.argv[1], sys.argv[2] == "1", *map(int, sys.argv[3:6]), sys.argv[6]
torch.set_num_threads(threads)
applied = retain_freed_memory() if retain else False
from _record import data_root
from contrarec.data.lightgcn import read_lightgcn_split
from graph_propagation import train_steps
step = train_steps(read_lightgcn_split(data_root() / dataset), [recipe])[recipe]
for _ in range(warmup):
    step()
faults, times = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, []
for _ in range(steps):
    began = time.perf_counter(); step(); times.append(time.perf_counter() - began)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
print(json.dumps({{"applied": applied, "times": times, "faults_per_step": faults}}))
"""


def run_child(recipe: str, retain: bool, args) -> dict:
    """One fresh process: the recipe's step times and page faults with or without retained memory."""
    code = CHILD.format(bench=str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-c", code, recipe, "1" if retain else "0", str(args.threads),
                          str(args.warmup), str(args.steps), args.dataset],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="lightgcn,xsimgcl,simgcl,sgl-ed")
    parser.add_argument("--dataset", default="yelp2018")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for recipe in args.recipes.split(","):
        times: dict[bool, list[float]] = {False: [], True: []}
        faults: dict[bool, list[float]] = {False: [], True: []}
        applied = False
        for _ in range(args.rounds):
            for retain in (False, True):
                out = run_child(recipe, retain, args)
                times[retain] += out["times"]
                faults[retain].append(out["faults_per_step"])
                applied = applied or out["applied"]
        for retain in (False, True):
            ts = times[retain]
            record("allocator_steps", dataset=args.dataset, recipe=recipe, selection="last",
                   params={"retain_freed_memory": retain, "applied": applied if retain else False,
                           "threads": args.threads, "warmup": args.warmup, "steps": args.steps,
                           "rounds": args.rounds, "batch": 2048, "what": "one training step, one recipe per process"},
                   metrics={"s_per_batch_min": round(min(ts), 4), "s_per_batch_median": round(statistics.median(ts), 4),
                            "minor_faults_per_step": round(statistics.mean(faults[retain]), 1)})


if __name__ == "__main__":
    main()
