"""Shared tiny, deterministic data for the test suite."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_synthetic():
    """A small synthetic log with clusters and features (fast to train on)."""
    from contrarec.data.synthetic import generate_synthetic

    return generate_synthetic(num_users=300, num_items=200, num_interactions=6000, num_clusters=5, seed=1)


@pytest.fixture(scope="session")
def tiny_split(tiny_synthetic):
    """A random 80/20 per-user split of the tiny log with 10% of train carved for validation."""
    from contrarec.data.interactions import Split
    from contrarec.data.splits import carve_validation, split_random_per_user

    split = split_random_per_user(tiny_synthetic, test_ratio=0.2, seed=0)
    train, valid = carve_validation(split.train, ratio=0.1, seed=0)
    return Split(train=train, valid=valid, test=split.test)
