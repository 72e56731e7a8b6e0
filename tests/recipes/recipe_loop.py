"""The recipe tests' shared steps: build a recipe's model and train it with a plain loop (no trainer, no
evaluator), so that a recipe's tests fail on the recipe alone."""

from __future__ import annotations

import numpy as np
import torch


def build(name, data, **raw):
    """``(recipe, config, model)`` of recipe ``name`` on interactions ``data``, settings ``raw``, seed 0."""
    from contrarec.recipes.catalog import get_recipe

    recipe = get_recipe(name)
    cfg = recipe.parse_config(raw)
    torch.manual_seed(0)
    return recipe, cfg, recipe.build_model(cfg, data)


def run_epochs(model, batches, optimizer, epochs):
    """Train ``epochs`` epochs of ``batches``; returns each epoch's mean total loss and the last step's terms."""
    means, terms = [], {}
    for epoch in range(epochs):
        model.train()
        model.on_epoch_start(epoch, torch.Generator().manual_seed(epoch))
        losses = []
        for batch in batches.epoch(epoch):
            terms = model.compute_loss(batch)
            optimizer.zero_grad()
            terms["total"].backward()
            optimizer.step()
            model.on_step_end()
            losses.append(float(terms["total"].detach()))
        means.append(float(np.mean(losses)))
    model.eval()
    return means, terms
