"""The export folder: manifest fields, embeddings round trip, and the exported tower matching the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from contrarec.serve.cold_start import BadFeature, ColdStartEncoder, NewUser, UnknownItem
from contrarec.serve.exported import ExportedModel
from contrarec.serve.tower_export import fold_in_table


def test_manifest_has_the_serving_fields(export_dir, tiny_run):
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert manifest["model"] == "two-tower"
    assert manifest["dim"] == 16
    assert manifest["normalization"] == "l2" and manifest["metric"] == "cosine"
    assert len(manifest["data_fingerprint"]) == 16
    assert manifest["files"]["user_tower"] == "user_tower.pt2"
    assert manifest["num_users"] == tiny_run.split.train.num_users


def test_embeddings_and_seen_round_trip(export_dir, tiny_run):
    exported = ExportedModel.load(export_dir)
    np.testing.assert_allclose(exported.user_embeddings, tiny_run.model.user_embeddings().numpy(), atol=1e-6)
    np.testing.assert_allclose(exported.item_embeddings, tiny_run.model.item_embeddings().numpy(), atol=1e-6)
    assert exported.user_map.to_internal("u3") == 3
    known = tiny_run.known_csr
    assert (exported.seen != known).nnz == 0
    np.testing.assert_array_equal(exported.seen_items(5), np.sort(known[5].indices))


def test_exported_tower_reproduces_known_users(export_dir, tiny_run):
    tower = ExportedModel.load(export_dir).user_tower
    ids = torch.tensor([0, 7, 59, 3, 3])
    inputs = (ids, torch.zeros(5, 1, dtype=torch.int64), torch.zeros(5, 0, 1, dtype=torch.int64),
              torch.zeros(5, 1), torch.full((5, 2), -1, dtype=torch.int64))
    with torch.no_grad():
        out = tower(*inputs)
    torch.testing.assert_close(out, tiny_run.model.user_embeddings()[ids], atol=1e-5, rtol=1e-5)


def test_exported_tower_matches_in_process_cold_start(export_dir, tiny_run):
    """An unseen user's embedding equals the training code's tower with overrides and folded-in history."""
    model = tiny_run.model
    exported = ExportedModel.load(export_dir)
    encoder = ColdStartEncoder(exported)
    users = [NewUser({"segment": "b", "age": 0.5}, ["i1", "i4", "i7"]), NewUser({}, []),
             NewUser({"segment": "never-seen"}, ["i2"])]
    got = encoder.encode(users)
    fold, mean_user = fold_in_table(model.user_tower.id_embedding.weight, tiny_run.split.train.to_csr())
    id_emb = torch.stack([fold[[1, 4, 7]].mean(0), mean_user, fold[[2]].mean(0)])
    overrides = {"segment": torch.tensor([2, 0, 0]), "age": torch.tensor([0.5, 0.0, 0.0])}
    with torch.no_grad():
        want = model.user_tower(torch.zeros(3, dtype=torch.int64), feature_overrides=overrides, id_embedding=id_emb)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_cold_start_rejects_bad_input(export_dir):
    encoder = ColdStartEncoder(ExportedModel.load(export_dir))
    with pytest.raises(UnknownItem, match="nope"):
        encoder.encode([NewUser({}, ["nope"])])
    with pytest.raises(BadFeature, match="colour"):
        encoder.encode([NewUser({"colour": "red"}, [])])
    with pytest.raises(BadFeature, match="age"):
        encoder.encode([NewUser({"age": "old"}, [])])


def test_export_without_tower_uses_history_mean(export_dir):
    exported = ExportedModel.load(export_dir, user_tower=False)
    out = ColdStartEncoder(exported).encode([NewUser({}, ["i1", "i2"])])
    want = exported.item_embeddings[[1, 2]].mean(0)
    np.testing.assert_allclose(out[0], want / np.linalg.norm(want), atol=1e-6)
