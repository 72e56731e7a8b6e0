"""The one explicit registry of recipes: name -> Recipe. Add new recipes to ``_ALL``."""

from __future__ import annotations

from contrarec.recipes import bpr_mf, ccl, ials, item_item, popularity, two_tower
from contrarec.recipes import directau, directau_graph, item2item, moco, ssl_two_tower, swav
from contrarec.recipes import lightgcn, sgl, simgcl
from contrarec.recipes.base import Recipe

_ALL: list[Recipe] = [
    two_tower.RECIPE,
    bpr_mf.RECIPE,
    popularity.MOST_POPULAR,
    popularity.RANDOM,
    item_item.ITEMKNN,
    item_item.EASE,
    ials.RECIPE,
    lightgcn.RECIPE,
    sgl.SGL_ND,
    sgl.SGL_ED,
    sgl.SGL_RW,
    simgcl.SIMGCL,
    simgcl.XSIMGCL,
    moco.RECIPE,
    swav.RECIPE,
    directau.RECIPE,
    directau_graph.RECIPE,
    item2item.RECIPE,
    ssl_two_tower.ITEM_SSL,
    ssl_two_tower.USER_SSL,
    ccl.RECIPE,
]

RECIPES: dict[str, Recipe] = {r.name: r for r in _ALL}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; a ``KeyError`` listing the valid names otherwise."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
