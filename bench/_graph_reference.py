"""SELFRec-style training steps, re-implemented to be timed beside contrarec's under the same machine load.

Each step follows SELFRec's ``model/graph/{LightGCN,SimGCL,XSimGCL,SGL}.py`` (Coder-Yu/SELFRec @5b02294):
``torch.sparse.mm`` over the square COO adjacency for every layer and every view, plain autograd, the same
losses, Adam. Only the speed is compared; nothing here is part of the library.
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from contrarec.data.batches import InteractionBatches


def _coo(matrix: sp.csr_matrix) -> torch.Tensor:
    coo = matrix.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(coo.data.astype(np.float32)), coo.shape).coalesce()


def _square(r_tilde: sp.csr_matrix) -> sp.csr_matrix:
    return sp.bmat([[None, r_tilde], [r_tilde.T, None]]).tocsr()


def _infonce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    pos = torch.exp((a * b).sum(-1) / temperature)
    total = torch.exp(a @ b.T / temperature).sum(1)
    return -torch.log(pos / total).mean()


def _bpr(u: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    return -torch.log(1e-7 + torch.sigmoid((u * i).sum(1) - (u * j).sum(1))).mean()


def _l2(reg: float, *embs: torch.Tensor) -> torch.Tensor:
    return reg * sum(torch.norm(e, p=2) / e.shape[0] for e in embs)


def selfrec_steps(r_tilde: sp.csr_matrix, edge_drop_view: sp.csr_matrix, batches: InteractionBatches,
                  names: list[str]) -> dict[str, Callable]:
    """One SELFRec-style training step per recipe name (lightgcn, xsimgcl, simgcl, sgl-ed)."""
    num_users, num_items = r_tilde.shape
    adj, view = _coo(_square(r_tilde)), _coo(_square(edge_drop_view))
    emb = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(num_users + num_items, 64)))
    opt = torch.optim.Adam([emb], lr=1e-3)
    stream = (b for epoch in range(10 ** 6) for b in batches.epoch(epoch))

    def forward(graph: torch.Tensor, eps: float = 0.0, with_input: bool = True, tap: int | None = None):
        ego, layers, tapped = emb, [emb] if with_input else [], None
        for k in range(3):
            ego = torch.sparse.mm(graph, ego)
            if eps:
                ego = ego + torch.sign(ego) * F.normalize(torch.rand_like(ego), dim=-1) * eps
            layers.append(ego)
            tapped = ego if tap == k + 1 else tapped
        mean = torch.stack(layers, 1).mean(1)
        return mean[:num_users], mean[num_users:], tapped

    def step(name: str) -> None:
        batch = next(stream)
        u_idx, i_idx, j_idx = batch.users, batch.items, batch.negatives[:, 0]
        uu, ui = torch.unique(u_idx), torch.unique(i_idx)
        if name == "lightgcn":
            users, items, _ = forward(adj)
            loss = _bpr(users[u_idx], items[i_idx], items[j_idx]) + 1e-4 * (
                emb[u_idx].square().sum() + emb[num_users + i_idx].square().sum()
                + emb[num_users + j_idx].square().sum()) / (2 * len(u_idx))
        elif name == "xsimgcl":
            users, items, tapped = forward(adj, 0.2, with_input=False, tap=1)
            cl = _infonce(users[uu], tapped[uu], 0.15) + _infonce(items[ui], tapped[num_users + ui], 0.15)
            loss = _bpr(users[u_idx], items[i_idx], items[j_idx]) + 0.2 * cl + _l2(1e-4, users[u_idx], items[i_idx])
        elif name == "simgcl":
            users, items, _ = forward(adj, with_input=False)
            u1, i1, _ = forward(adj, 0.1, with_input=False)
            u2, i2, _ = forward(adj, 0.1, with_input=False)
            cl = _infonce(u1[uu], u2[uu], 0.2) + _infonce(i1[ui], i2[ui], 0.2)
            loss = _bpr(users[u_idx], items[i_idx], items[j_idx]) + 0.5 * cl + _l2(1e-4, users[u_idx], items[i_idx])
        else:  # sgl-ed: both views are the same dropped graph here; only the cost matters
            users, items, _ = forward(adj)
            u1, i1, _ = forward(view)
            u2, i2, _ = forward(view)
            cl = _infonce(u1[uu], u2[uu], 0.2) + _infonce(i1[ui], i2[ui], 0.2)
            loss = _bpr(users[u_idx], items[i_idx], items[j_idx]) + 0.1 * cl + _l2(
                1e-4, users[u_idx], items[i_idx], items[j_idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {f"SELFRec-style {name}": (lambda name=name: step(name)) for name in names}


def sparse_tensor(m: sp.csr_matrix, layout: str, index_dtype=torch.int64) -> torch.Tensor:
    m = m.tocsr().astype(np.float32)
    ptr = torch.from_numpy(m.indptr.astype(np.int64)).to(index_dtype)
    idx = torch.from_numpy(m.indices.astype(np.int64)).to(index_dtype)
    t = torch.sparse_csr_tensor(ptr, idx, torch.from_numpy(m.data), size=m.shape)
    return t.to_sparse_coo().coalesce() if layout == "coo" else t


def autograd_full(adj: torch.Tensor) -> Callable:
    """SELFRec/RecBole: ``torch.sparse.mm`` over the square (U+N) adjacency, plain autograd."""
    def run(e0: torch.Tensor) -> torch.Tensor:
        layers, e = [e0], e0
        for _ in range(3):
            e = torch.sparse.mm(adj, e)
            layers.append(e)
        return torch.stack(layers).mean(0)
    return run


def scipy_product(m: sp.csr_matrix) -> Callable:
    m = m.tocsr().astype(np.float32)
    return lambda x: torch.from_numpy(m @ x.detach().numpy())


def c_kernel(m: sp.csr_matrix) -> Callable | None:
    """A hand-written AVX2 + OpenMP CSR kernel for D = 64 (compiled here; None when gcc is missing)."""
    lib = _compile_c()
    if lib is None:
        return None
    m = m.tocsr().astype(np.float32)
    ptr, idx, val = m.indptr.astype(np.int32), m.indices.astype(np.int32), m.data

    def run(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().contiguous()
        out = torch.empty(m.shape[0], 64)
        lib.spmm64(ctypes.c_int64(m.shape[0]), ctypes.c_void_p(ptr.ctypes.data), ctypes.c_void_p(idx.ctypes.data),
                   ctypes.c_void_p(val.ctypes.data), ctypes.c_void_p(x.data_ptr()),
                   ctypes.c_void_p(out.data_ptr()), ctypes.c_int(torch.get_num_threads()))
        return out
    return run


C_SOURCE = r"""
#include <stdint.h>
#include <immintrin.h>
void spmm64(int64_t rows, const int32_t* ptr, const int32_t* idx, const float* val, const float* x,
            float* out, int threads) {
  #pragma omp parallel for schedule(dynamic, 512) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r) {
    __m256 a[8];
    for (int k = 0; k < 8; ++k) a[k] = _mm256_setzero_ps();
    for (int32_t p = ptr[r]; p < ptr[r + 1]; ++p) {
      const __m256 v = _mm256_broadcast_ss(val + p);
      const float* row = x + (int64_t)idx[p] * 64;
      for (int k = 0; k < 8; ++k) a[k] = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 8 * k), a[k]);
    }
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(out + r * 64 + 8 * k, a[k]);
  }
}
"""


def _compile_c():
    tmp = Path(tempfile.mkdtemp())
    (tmp / "spmm.c").write_text(C_SOURCE)
    try:
        subprocess.run(["gcc", "-O3", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC", str(tmp / "spmm.c"),
                        "-o", str(tmp / "spmm.so")], check=True, capture_output=True)
        return ctypes.CDLL(str(tmp / "spmm.so"))
    except (OSError, subprocess.CalledProcessError):
        return None
