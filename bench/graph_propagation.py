"""Time LightGCN propagation candidates, forward + backward, on the real Yelp2018 graph.

Every candidate computes the 3-layer LightGCN readout (d = 64) of all users and items, back-propagates a
random gradient through it, and is checked against the reference (torch.sparse.mm over COO with autograd,
the formulation of SELFRec / RecBole) before it is timed. Candidates run interleaved, ``--rounds`` times, and
the minimum and median are recorded, because the machine is shared.

Then the same is timed per training batch for the propagation patterns of the recipes (batch 2048 with one
negative): ``lightgcn`` (one clean view), ``xsimgcl`` (one noisy view + tapped layer), ``simgcl`` (clean + two
noisy views), ``sgl-ed`` (clean + two edge-dropped graphs), each with all rows and with the batch's rows only. Last, one full training step of each recipe (sampling,
loss, backward, AdamW) is timed at its defaults, with its tables in id order (``model.node_order=input``),
and interleaved with a SELFRec-style step of the same model (``_graph_reference``), so that the speed-ups
are measured under the same machine load.

    .venv/bin/python bench/graph_propagation.py [--rounds 7] [--dataset yelp2018]

``--floor`` times only a ``lightgcn`` step, an ``xsimgcl`` step and, alone, the two parts ``xsimgcl`` adds to
the first (its InfoNCE products and its noise): their sum is a floor for an ``xsimgcl`` step.

Like the trainer, the benchmark keeps freed heap memory in the process (``contrarec.train.allocator``), for
our steps and the peer's alike; ``--release-freed-memory`` leaves glibc at its defaults.

Results go to ``bench/results/graph_propagation.jsonl``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _graph_reference import autograd_full, c_kernel, scipy_product, selfrec_steps, sparse_tensor  # noqa: E402
from _record import data_root, record  # noqa: E402

from contrarec.data.batches import InteractionBatches  # noqa: E402
from contrarec.data.lightgcn import read_lightgcn_split  # noqa: E402
from contrarec.encoders.graph import BipartiteGraph, normalize_adjacency, normalize_edges  # noqa: E402
from contrarec.encoders.node_order import locality_order  # noqa: E402
from contrarec.encoders.propagation import PropagationView, propagate  # noqa: E402
from contrarec.train.allocator import retain_freed_memory  # noqa: E402
from contrarec.train.optim import make_optimizer  # noqa: E402
from contrarec.views.graph_views import edge_dropout  # noqa: E402

LAYERS, DIM, BATCH = 3, 64, 2048
warnings.filterwarnings("ignore", message=".*[Ss]parse.*")


class _BlockLayer(torch.autograd.Function):
    """One layer over the bipartite blocks with a given (forward, transposed) product pair."""

    @staticmethod
    def forward(ctx, eu, ei, fwd_u, fwd_i):
        ctx.fwd = (fwd_u, fwd_i)
        return fwd_u(ei), fwd_i(eu)

    @staticmethod
    def backward(ctx, gu, gi):
        fwd_u, fwd_i = ctx.fwd
        return fwd_u(gi), fwd_i(gu), None, None  # R̃ᵀ gu is the item forward, R̃ gi the user forward


def blocks_per_layer(matmul_u: Callable, matmul_i: Callable, num_users: int) -> Callable:
    """Bipartite blocks, one custom Function per layer whose backward reuses the other block's forward."""
    def run(e0: torch.Tensor) -> torch.Tensor:
        eu, ei = e0[:num_users], e0[num_users:]
        acc_u, acc_i = eu, ei
        for _ in range(LAYERS):
            eu, ei = _BlockLayer.apply(eu, ei, matmul_u, matmul_i)
            acc_u, acc_i = acc_u + eu, acc_i + ei
        return torch.cat([acc_u, acc_i]) / (LAYERS + 1)
    return run


def blocks_autograd(r_tilde: sp.csr_matrix, num_users: int) -> Callable:
    """Bipartite blocks with ``torch.sparse.mm`` on CSR, letting autograd transpose them in the backward."""
    t_ui, t_iu = sparse_tensor(r_tilde, "csr"), sparse_tensor(r_tilde.T, "csr")

    def run(e0: torch.Tensor) -> torch.Tensor:
        eu, ei = e0[:num_users], e0[num_users:]
        acc_u, acc_i = eu, ei
        for _ in range(LAYERS):
            eu, ei = torch.sparse.mm(t_ui, ei), torch.sparse.mm(t_iu, eu)
            acc_u, acc_i = acc_u + eu, acc_i + ei
        return torch.cat([acc_u, acc_i]) / (LAYERS + 1)
    return run


def reordered(graph: BipartiteGraph) -> Callable:
    """The fused kernel on the graph in locality order (``encoders.node_order``), with the tables permuted in
    and the readout permuted out inside the timing (the recipes map only batch ids, so they pay less)."""
    u, n = graph.num_users, graph.num_items
    node_order = locality_order(graph.edge_users, graph.edge_items, u, n)
    permuted = normalize_edges(node_order.user_row[graph.edge_users], node_order.item_row[graph.edge_items], u, n)
    order = torch.cat([node_order.user_at_row, node_order.item_at_row + u])  # new row r holds old row order[r]
    inverse = torch.argsort(order)

    def run(e0: torch.Tensor) -> torch.Tensor:
        out = fused(permuted)(e0[order])
        return out[inverse]
    return run


def fused(graph: BipartiteGraph) -> Callable:
    """contrarec: one autograd.Function for all layers, Horner backward over the stored blocks."""
    def run(e0: torch.Tensor) -> torch.Tensor:
        eu, ei = e0[:graph.num_users], e0[graph.num_users:]
        out = propagate(eu, ei, [PropagationView(graph)], LAYERS, True)[0]
        return torch.cat([out.user, out.item])
    return run


def fwd_bwd(fn: Callable, e0: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    e = e0.detach().requires_grad_()
    out = fn(e)
    (g,) = torch.autograd.grad(out, e, grad)
    return out.detach(), g


def timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(cases: dict[str, Callable], rounds: int) -> dict[str, list[float]]:
    for fn in cases.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    return times


def batch_patterns(graph: BipartiteGraph, train_users: np.ndarray, train_items: np.ndarray) -> dict[str, Callable]:
    """One training batch's propagation (forward + backward of a loss on the batch rows) per recipe."""
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    u0 = torch.nn.init.xavier_uniform_(torch.empty(graph.num_users, DIM)).requires_grad_()
    i0 = torch.nn.init.xavier_uniform_(torch.empty(graph.num_items, DIM)).requires_grad_()
    ed1, ed2 = (edge_dropout(graph, 0.1, gen).graph for _ in range(2))
    patterns = {
        "lightgcn": ([PropagationView(graph)], True),
        "xsimgcl": ([PropagationView(graph, noise_eps=0.2, tap_layer=1)], False),
        "simgcl": ([PropagationView(graph), PropagationView(graph, noise_eps=0.1),
                    PropagationView(graph, noise_eps=0.1)], False),
        "sgl-ed": ([PropagationView(graph), PropagationView(ed1), PropagationView(ed2)], True),
    }
    cases = {}
    for name, (views, from_input) in patterns.items():
        for restricted in (False, True):
            def step(views=views, from_input=from_input, restricted=restricted):
                pick = rng.integers(0, len(train_users), BATCH)
                users = torch.from_numpy(np.unique(train_users[pick]))
                items = torch.from_numpy(np.unique(np.concatenate([train_items[pick],
                                                                   rng.integers(0, graph.num_items, BATCH)])))
                outs = propagate(u0, i0, views, LAYERS, from_input, users if restricted else None,
                                 items if restricted else None, gen)
                loss = sum((o.user if restricted else o.user[users]).square().sum()
                           + (o.item if restricted else o.item[items]).square().sum()
                           + (0 if o.user_tap is None else o.user_tap.sum()) for o in outs)
                loss.backward()
            cases[f"{name} ({'batch rows' if restricted else 'all rows'})"] = step
    return cases


def train_steps(split, names: list[str], settings: dict | None = None, label: str = "") -> dict[str, Callable]:
    """One full training step of each recipe at its defaults (and model ``settings``): sampling, loss,
    backward, and the trainer's optimizer (fused AdamW). Cases are named ``recipe + label``."""
    from contrarec.recipes.catalog import get_recipe

    cases = {}
    for name in names:
        recipe = get_recipe(name)
        cfg = recipe.parse_config(dict(settings or {}))
        model = recipe.build_model(cfg, split.train)
        batches = recipe.make_batches(cfg, split.train, recipe.train_defaults["batch_size"], 0)
        opt = make_optimizer(model, 1e-3, 0.0)
        model.on_epoch_start(0, torch.Generator().manual_seed(0))
        stream = (batch for epoch in range(10 ** 6) for batch in batches.epoch(epoch))

        def step(model=model, opt=opt, stream=stream):
            terms = model.compute_loss(next(stream))
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
        cases[name + label] = step
    return cases


def contrast_parts(split) -> dict[str, Callable]:
    """What ``xsimgcl`` adds to a ``lightgcn`` step, each part alone, on the sizes of real batches.

    ``InfoNCE GEMMs``: per step, for the batch's unique users and unique positives, the three products of an
    InfoNCE between two views (``a bᵀ`` forward, ``g b`` and ``gᵀ a`` backward), ``[u, D] x [D, u]`` and
    ``[p, D] x [D, p]``. ``noise``: SimGCL's signed uniform noise over every node of layers 1..K-1 and over
    the batch's rows of layer K (by the native operator where built; ``torch path``: without it). A
    ``lightgcn`` step (propagation, BPR, optimizer) plus these two is a floor
    for an ``xsimgcl`` step: the recipe needs all of it.
    """
    from contrarec.views.embedding_noise import sign_uniform_noise

    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    users_all, items_all = split.train.users, split.train.items
    num_users, num_items = split.train.num_users, split.train.num_items

    def sizes() -> tuple[int, int]:
        pick = rng.integers(0, len(users_all), BATCH)
        return len(np.unique(users_all[pick])), len(np.unique(items_all[pick]))

    def gemms() -> None:
        for rows in sizes():
            a, b = torch.randn(rows, DIM, generator=gen), torch.randn(rows, DIM, generator=gen)
            g = a @ b.T                                             # forward logits [r, r]
            torch.mm(g, b), torch.mm(g.T, a)                        # the two backward products [r, D]

    tables = (torch.randn(num_users, DIM, generator=gen), torch.randn(num_items, DIM, generator=gen))

    def noise(native: bool = True) -> None:
        u, p = sizes()
        for _ in range(LAYERS - 1):
            for table in tables:
                table.add_(sign_uniform_noise(table, 0.2, gen, native=native))
        for table, rows in zip(tables, (u, 2 * p)):
            sign_uniform_noise(table[:rows], 0.2, gen, native=native)
    return {"InfoNCE GEMMs (xsimgcl, alone)": gemms, "signed noise (xsimgcl, alone)": noise,
            "signed noise, torch path (alone)": lambda: noise(native=False)}


def time_kernels_and_batches(args, split, graph, r_tilde, square, params: dict) -> None:
    """The propagation candidates over the full graph, then the recipes' per-batch propagations."""
    num_users = graph.num_users
    candidates: dict[str, Callable] = {"torch.sparse.mm COO, autograd": autograd_full(sparse_tensor(square, "coo")),
                                       "torch.sparse.mm CSR, autograd": autograd_full(sparse_tensor(square, "csr"))}
    candidates["torch.sparse.mm CSR blocks, autograd"] = blocks_autograd(r_tilde, num_users)
    t_int32 = (sparse_tensor(r_tilde, "csr", torch.int32), sparse_tensor(r_tilde.T, "csr", torch.int32))
    candidates["torch CSR int32 blocks, transpose-reuse backward"] = blocks_per_layer(
        lambda x: t_int32[0] @ x, lambda x: t_int32[1] @ x, num_users)
    candidates["scipy CSR blocks (1 thread), transpose-reuse backward"] = blocks_per_layer(
        scipy_product(r_tilde), scipy_product(r_tilde.T), num_users)
    c_u, c_i = c_kernel(r_tilde), c_kernel(r_tilde.T)
    if c_u is not None:
        candidates["C AVX2+OpenMP blocks, transpose-reuse backward"] = blocks_per_layer(c_u, c_i, num_users)
    candidates["embedding_bag blocks, transpose-reuse backward"] = blocks_per_layer(
        graph.user_item.matmul, graph.item_user.matmul, num_users)
    candidates["contrarec fused (embedding_bag, Horner backward)"] = fused(graph)
    candidates["contrarec fused, RCM-reordered ids"] = reordered(graph)
    if args.skip_slow:
        candidates = {k: v for k, v in candidates.items() if "COO" not in k and "scipy" not in k}

    gen = torch.Generator().manual_seed(0)
    e0 = torch.randn(graph.num_users + graph.num_items, DIM, generator=gen) * 0.1
    grad = torch.randn(e0.shape, generator=gen)
    ref_out, ref_grad = fwd_bwd(autograd_full(sparse_tensor(square, "csr")), e0, grad)
    for name, fn in candidates.items():
        out, g = fwd_bwd(fn, e0, grad)
        err = max(float((out - ref_out).abs().max()), float((g - ref_grad).abs().max()))
        if err > 1e-4:
            raise AssertionError(f"{name}: differs from the reference by {err:.2e}")
    times = interleaved({k: (lambda fn=fn: fwd_bwd(fn, e0, grad)) for k, fn in candidates.items()}, args.rounds)
    for name, ts in times.items():
        record("graph_propagation", dataset=args.dataset, recipe=name, selection="last",
               params={**params, "what": "full 3-layer readout, forward + backward"},
               metrics={"s_per_layer_fwd_bwd_min": min(ts) / LAYERS,
                        "s_per_layer_fwd_bwd_median": statistics.median(ts) / LAYERS,
                        "s_per_propagation_min": min(ts)})
    batch_times = interleaved(batch_patterns(graph, split.train.users, split.train.items), args.rounds)
    for name, ts in batch_times.items():
        record("graph_propagation", dataset=args.dataset, recipe=name, selection="last",
               params={**params, "what": "one training batch's propagations, forward + backward", "batch": BATCH},
               metrics={"s_per_batch_min": min(ts), "s_per_batch_median": statistics.median(ts)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="yelp2018")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-slow", action="store_true", help="skip COO and scipy candidates")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--recipes", default="lightgcn,xsimgcl,simgcl,sgl-ed",
                        help="recipes whose full training step is timed")
    parser.add_argument("--release-freed-memory", action="store_true",
                        help="leave glibc's allocator at its defaults (the trainer retains freed memory)")
    parser.add_argument("--steps-only", action="store_true", help="time the full training steps only")
    parser.add_argument("--floor", action="store_true",
                        help="time only the lightgcn and xsimgcl steps and the parts xsimgcl adds (its floor)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    retained = retain_freed_memory() if not args.release_freed_memory else False  # ours and the peer alike
    split = read_lightgcn_split(data_root() / args.dataset)
    train = split.train.to_csr()
    graph = normalize_adjacency(train)
    r_tilde = sp.csr_matrix((graph.user_item.values.numpy(), graph.user_item.indices.numpy(),
                             graph.user_item.indptr.numpy()), shape=train.shape)
    square = sp.bmat([[None, r_tilde], [r_tilde.T, None]]).tocsr()
    params = {"layers": LAYERS, "dim": DIM, "nnz_adjacency": 2 * graph.num_edges, "rounds": args.rounds,
              "threads": torch.get_num_threads(), "load_avg_1min_at_start": os.getloadavg()[0],
              "retain_freed_memory": retained}
    if args.floor:
        steps = {**train_steps(split, ["lightgcn", "xsimgcl"]), **contrast_parts(split)}
        for name, ts in interleaved(steps, args.rounds).items():
            record("graph_propagation", dataset=args.dataset, recipe=name, selection="last",
                   params={**params, "what": "xsimgcl floor: a lightgcn step and the parts xsimgcl adds",
                           "batch": BATCH},
                   metrics={"s_per_batch_min": min(ts), "s_per_batch_median": statistics.median(ts)})
        return
    if not args.steps_only:
        time_kernels_and_batches(args, split, graph, r_tilde, square, params)
    names = args.recipes.split(",")
    steps = train_steps(split, names)  # the defaults: tables stored in RCM order (model.node_order=locality)
    steps.update(train_steps(split, names, {"node_order": "input"}, " (node_order=input)"))
    if not args.skip_slow:  # SELFRec's formulation of the same steps, interleaved with ours
        view = r_tilde.multiply(sp.csr_matrix((np.random.default_rng(0).random(r_tilde.nnz) >= 0.1,
                                               r_tilde.indices, r_tilde.indptr), shape=r_tilde.shape)).tocsr()
        batches = InteractionBatches(split.train.users, split.train.items, graph.num_items, BATCH, 0,
                                     train_csr=train, num_negatives=1)
        steps.update(selfrec_steps(r_tilde, view, batches, names))
    step_times = interleaved(steps, args.rounds)
    batches_per_epoch = -(-len(split.train) // BATCH)
    for name, ts in step_times.items():
        record("graph_propagation", dataset=args.dataset, recipe=name, selection="last",
               params={**params, "what": "one full training step at the recipe defaults", "batch": BATCH},
               metrics={"s_per_batch_min": min(ts), "s_per_batch_median": statistics.median(ts),
                        "s_per_epoch_from_median": statistics.median(ts) * batches_per_epoch})


if __name__ == "__main__":
    main()
