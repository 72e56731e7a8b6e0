"""LightGCN propagation with a hand-written backward, for one or several views of the same embeddings.

For layer-0 embeddings e⁰ = (e⁰_u [U, D], e⁰_i [N, D]) a view computes, for k = 1..K,

    e^k_u = R̃_k e^{k-1}_i + Δ^k_u        e^k_i = R̃_kᵀ e^{k-1}_u + Δ^k_i

and the readout ē = s · Σ_k e^k (k from 0, s = 1/(K+1), as in LightGCN; or from 1, s = 1/K, as in SimGCL).
Δ is SimGCL's noise (0 for a clean view), R̃_k the normalized graph of layer k (the same for every layer
except in SGL's random-walk views), and a view may also mask e⁰ (feature masking) and return one layer e^l
(XSimGCL's contrastive layer l*).

Why a custom ``autograd.Function`` and not autograd over ``torch.sparse.mm``:

* Propagation is linear in e⁰ (Δ depends on e only through ``sign``, whose gradient is 0), so the backward
  is ``∂e⁰ = Σ_k (Ãᵀ)^k g_k`` where g_k is the gradient reaching layer k. It is computed by Horner's rule,
  ``h_K = g_K;  h_{k-1} = g_{k-1} + Ã_kᵀ h_k``, with the transposed CSR block already stored
  (``R̃ᵀ`` is the forward of the items), and no activation is saved.
* Views over the same graph share one backward: their gradients are summed layer by layer before the
  Horner pass, so SimGCL's clean + two noisy propagations cost one backward, not three.
* Views over the same graph also share the first product Ã e⁰ (noise is added after it).
* Losses only read the batch's rows: when ``users``/``items`` are given, layer K is computed for those rows
  only, and the first backward step scatters from those rows only.

Shape legend: U users, N items, D embedding dim, u / i the number of requested user / item rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch

from contrarec.encoders.graph import BipartiteGraph, CsrBlock
from contrarec.views.embedding_noise import sign_uniform_noise


@dataclass(frozen=True)
class PropagationView:
    """How one view propagates the shared layer-0 embeddings.

    Args:
        graph: the normalized graph for every layer, or one graph per layer (length K, random walk).
        noise_eps: ε of SimGCL's signed uniform noise added after every layer (0 = clean).
        tap_layer: also return the embeddings of this layer (0..K), e.g. XSimGCL's l*; None = no tap.
        input_masks: ``([U, D], [N, D])`` multiplicative masks on e⁰ (feature masking), or None.
    """

    graph: BipartiteGraph | Sequence[BipartiteGraph]
    noise_eps: float = 0.0
    tap_layer: int | None = None
    input_masks: tuple[torch.Tensor, torch.Tensor] | None = None

    def graph_at(self, layer: int) -> BipartiteGraph:
        """The graph of layer ``layer`` (1-based)."""
        if isinstance(self.graph, BipartiteGraph):
            return self.graph
        return self.graph[layer - 1]

    def operator_key(self, num_layers: int) -> tuple[int, ...]:
        """Views with equal keys have the same linear backward (same graphs, same input mask)."""
        mask_id = id(self.input_masks[0]) if self.input_masks is not None else 0
        return tuple(id(self.graph_at(k)) for k in range(1, num_layers + 1)) + (mask_id,)


class PropagationOutput(NamedTuple):
    """One view's outputs: readout ``[u, D]`` / ``[i, D]`` and the tapped layer (or None)."""

    user: torch.Tensor
    item: torch.Tensor
    user_tap: torch.Tensor | None
    item_tap: torch.Tensor | None


@dataclass(frozen=True)
class _Plan:
    views: tuple[PropagationView, ...]
    num_layers: int
    readout_from_input: bool
    users: torch.Tensor | None
    items: torch.Tensor | None
    generator: torch.Generator | None

    @property
    def scale(self) -> float:
        return 1.0 / (self.num_layers + 1 if self.readout_from_input else self.num_layers)


def _rows(x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    return x if rows is None else x.index_select(0, rows)


class _SubBlocks:
    """Row-restricted blocks of each graph (and their transposes, for the backward), built once per call."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.cache: dict[int, tuple[CsrBlock, CsrBlock]] = {}
        self.transposed: dict[int, tuple[CsrBlock, CsrBlock]] = {}

    def get(self, graph: BipartiteGraph) -> tuple[CsrBlock, CsrBlock]:
        key = id(graph)
        if key not in self.cache:
            p = self.plan
            ui = graph.user_item if p.users is None else graph.user_item.select_rows(p.users)
            iu = graph.item_user if p.items is None else graph.item_user.select_rows(p.items)
            self.cache[key] = (ui, iu)
        return self.cache[key]

    def get_transposed(self, graph: BipartiteGraph) -> tuple[CsrBlock, CsrBlock]:
        """``(R̃[users, :]ᵀ [N, u], R̃ᵀ[items, :]ᵀ [U, i])``; the full blocks' transposes are stored already."""
        key = id(graph)
        if key not in self.transposed:
            ui, iu = self.get(graph)
            p = self.plan
            self.transposed[key] = (_transpose_of_rows(ui, graph.item_user, p.users),
                                    _transpose_of_rows(iu, graph.user_item, p.items))
        return self.transposed[key]


def _transpose_of_rows(sub: CsrBlock, full_t: CsrBlock, rows: torch.Tensor | None) -> CsrBlock:
    """``sub``ᵀ, where ``sub`` holds ``rows`` of a block whose transpose is ``full_t``.

    A sort of ``sub``'s entries, or (sorted distinct rows covering over an eighth of the entries, as in
    a large batch) a sort-free column filter of ``full_t``.
    """
    if rows is None:
        return full_t
    if sub.nnz * 8 > full_t.nnz and bool((rows[1:] > rows[:-1]).all()):
        return full_t.select_columns(rows)
    return sub.transpose()


def _forward_view(view: PropagationView, user0: torch.Tensor, item0: torch.Tensor, plan: _Plan,
                  subs: _SubBlocks, first_products: dict) -> list[torch.Tensor]:
    """Readout (and tap) of one view at the requested rows; see the module docstring for the recurrence."""
    eu, ei = user0, item0
    if view.input_masks is not None:
        eu, ei = eu * view.input_masks[0], ei * view.input_masks[1]
    k_last, users, items = plan.num_layers, plan.users, plan.items
    acc_u = _rows(eu, users).clone() if plan.readout_from_input else None
    acc_i = _rows(ei, items).clone() if plan.readout_from_input else None
    tap_u = _rows(eu, users) if view.tap_layer == 0 else None
    tap_i = _rows(ei, items) if view.tap_layer == 0 else None
    for k in range(1, k_last + 1):
        graph = view.graph_at(k)
        if k == k_last:  # only the requested rows of the last layer are ever read
            sub_ui, sub_iu = subs.get(graph)
            nu, ni = sub_ui.matmul(ei), sub_iu.matmul(eu)  # [u, D], [i, D]
        elif k == 1:
            key = (id(graph), id(view.input_masks[0]) if view.input_masks is not None else 0)
            if key not in first_products:
                first_products[key] = (graph.user_item.matmul(ei), graph.item_user.matmul(eu))  # [U, D], [N, D]
            nu, ni = first_products[key]
        else:
            nu, ni = graph.user_item.matmul(ei), graph.item_user.matmul(eu)
        if view.noise_eps > 0:  # in place, except on the first product that views share
            shared = k == 1 and k != k_last
            du = sign_uniform_noise(nu, view.noise_eps, plan.generator)
            di = sign_uniform_noise(ni, view.noise_eps, plan.generator)
            nu, ni = (nu + du, ni + di) if shared else (nu.add_(du), ni.add_(di))
        ru = nu if k == k_last else _rows(nu, users)
        ri = ni if k == k_last else _rows(ni, items)
        acc_u = ru.clone() if acc_u is None else acc_u.add_(ru)
        acc_i = ri.clone() if acc_i is None else acc_i.add_(ri)
        if view.tap_layer == k:
            tap_u, tap_i = ru, ri
        eu, ei = nu, ni
    out = [acc_u.mul_(plan.scale), acc_i.mul_(plan.scale)]
    if view.tap_layer is not None:
        out += [tap_u.clone(), tap_i.clone()]
    return out


def _inject(h: torch.Tensor | None, grad: torch.Tensor, rows: torch.Tensor | None, full_rows: int,
            restricted: bool) -> torch.Tensor:
    """Add a gradient given at ``rows`` to ``h`` (``[rows, D]`` when ``restricted``, else full)."""
    if restricted or rows is None:
        return grad.clone() if h is None else h.add_(grad)
    if h is None:
        h = grad.new_zeros(full_rows, grad.shape[1])
    return h.index_add_(0, rows, grad)


def _backward_group(views: list[tuple[PropagationView, list]], plan: _Plan, subs: _SubBlocks,
                    shape_u: tuple[int, int], shape_i: tuple[int, int],
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Horner pass ``h_{k-1} = g_{k-1} + Ã_kᵀ h_k`` for views sharing one linear operator."""
    k_last, users, items = plan.num_layers, plan.users, plan.items
    first = views[0][0]
    h_u = h_i = None
    for k in range(k_last, -1, -1):
        restricted = k == k_last
        for view, grads in views:
            g_u, g_i = grads[0], grads[1]
            if k > 0 or plan.readout_from_input:
                if g_u is not None:
                    h_u = _inject(h_u, g_u * plan.scale, users, shape_u[0], restricted)
                if g_i is not None:
                    h_i = _inject(h_i, g_i * plan.scale, items, shape_i[0], restricted)
            if view.tap_layer == k and len(grads) > 2:
                if grads[2] is not None:
                    h_u = _inject(h_u, grads[2], users, shape_u[0], restricted)
                if grads[3] is not None:
                    h_i = _inject(h_i, grads[3], items, shape_i[0], restricted)
        if k == 0:
            break
        graph = first.graph_at(k)
        # R̃ᵀ h_u: [N, D] and R̃ h_i: [U, D] (at layer K only the requested rows of h are non-zero)
        back_i, back_u = subs.get_transposed(graph) if restricted else (graph.item_user, graph.user_item)
        h_u, h_i = (None if h_i is None else back_u.matmul(h_i)), (None if h_u is None else back_i.matmul(h_u))
    h_u = torch.zeros(shape_u, dtype=dtype) if h_u is None else h_u
    h_i = torch.zeros(shape_i, dtype=dtype) if h_i is None else h_i
    if first.input_masks is not None:
        h_u, h_i = h_u * first.input_masks[0], h_i * first.input_masks[1]
    return h_u, h_i


class _Propagate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, user0: torch.Tensor, item0: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, ...]:
        ctx.set_materialize_grads(False)  # outputs a loss does not read get None, not zeros
        subs, first_products = _SubBlocks(plan), {}
        outs: list[torch.Tensor] = []
        user0, item0 = user0.detach(), item0.detach()  # lets embedding_bag take its forward-only kernel
        for view in plan.views:
            outs += _forward_view(view, user0, item0, plan, subs, first_products)
        ctx.plan, ctx.subs = plan, subs
        ctx.shapes = (tuple(user0.shape), tuple(item0.shape))
        ctx.dtype = user0.dtype
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        plan: _Plan = ctx.plan
        shape_u, shape_i = ctx.shapes
        groups: dict[tuple[int, ...], list] = {}
        pos = 0
        for view in plan.views:
            n = 4 if view.tap_layer is not None else 2
            groups.setdefault(view.operator_key(plan.num_layers), []).append((view, list(grads[pos:pos + n])))
            pos += n
        grad_u = grad_i = None
        for members in groups.values():
            gu, gi = _backward_group(members, plan, ctx.subs, shape_u, shape_i, ctx.dtype)
            grad_u = gu if grad_u is None else grad_u.add_(gu)
            grad_i = gi if grad_i is None else grad_i.add_(gi)
        return grad_u, grad_i, None


def propagate(user0: torch.Tensor, item0: torch.Tensor, views: Sequence[PropagationView], num_layers: int,
              readout_from_input: bool = True, users: torch.Tensor | None = None,
              items: torch.Tensor | None = None, generator: torch.Generator | None = None
              ) -> list[PropagationOutput]:
    """Propagate layer-0 embeddings through each view; differentiable w.r.t. ``user0`` and ``item0``.

    Args:
        user0: ``[U, D]`` layer-0 user embeddings.
        item0: ``[N, D]`` layer-0 item embeddings.
        views: one or more views (graph, noise, tap layer, input masks).
        num_layers: K ≥ 1 propagation layers.
        readout_from_input: average layers 0..K (LightGCN, SGL) instead of 1..K (SimGCL, XSimGCL).
        users: ``[u]`` user rows to return (None = all U); losses read only the batch's rows, and layer K is
            computed for these rows only.
        items: ``[i]`` item rows to return (None = all N).
        generator: random source of the noise.

    Returns:
        One :class:`PropagationOutput` per view, with rows in the order of ``users`` / ``items``.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    for view in views:
        if view.tap_layer is not None and not 0 <= view.tap_layer <= num_layers:
            raise ValueError(f"tap_layer must lie in [0, {num_layers}], got {view.tap_layer}")
        if not isinstance(view.graph, BipartiteGraph) and len(view.graph) != num_layers:
            raise ValueError(f"a per-layer view needs {num_layers} graphs, got {len(view.graph)}")
        graph = view.graph_at(1)
        if (graph.num_users, graph.num_items) != (user0.shape[0], item0.shape[0]):
            raise ValueError(f"graph is {graph.num_users} x {graph.num_items} but embeddings are "
                             f"{user0.shape[0]} users x {item0.shape[0]} items")
    plan = _Plan(tuple(views), num_layers, readout_from_input, users, items, generator)
    flat = _Propagate.apply(user0, item0, plan)
    outputs, pos = [], 0
    for view in views:
        if view.tap_layer is not None:
            outputs.append(PropagationOutput(*flat[pos:pos + 4]))
            pos += 4
        else:
            outputs.append(PropagationOutput(flat[pos], flat[pos + 1], None, None))
            pos += 2
    return outputs
