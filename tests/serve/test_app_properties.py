"""Property-based: no input makes the service fail (every answer is 2xx/404/413/422 JSON, never 5xx)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contrarec.serve.app import create_app
from contrarec.serve.recommender import ServingModel
from contrarec.serve.swap import ModelHolder

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)
user_ids = st.one_of(st.sampled_from(["u0", "u3", "u59", "i1"]), st.text(max_size=40))
item_ids = st.one_of(st.sampled_from(["i0", "i5", "i89"]), st.text(max_size=40))
ks = st.one_of(st.integers(-5, 1200), st.text(max_size=6), st.floats(allow_nan=True))


@pytest.fixture(scope="module")
def client(export_dir):
    holder = ModelHolder(ServingModel.load(export_dir), paths={"export": str(export_dir)})
    with TestClient(create_app(holder, max_body_bytes=2048), raise_server_exceptions=False) as c:
        yield c


def _check(r, allowed=(200, 404, 413, 422)) -> None:
    assert r.status_code in allowed, (r.status_code, r.text)
    body = r.json()
    assert ("items" in body) if r.status_code == 200 else ("error" in body)


@SETTINGS
@given(user_id=user_ids, k=ks, filter_seen=st.one_of(st.booleans(), st.text(max_size=5)),
       stage=st.one_of(st.sampled_from(["auto", "recall", "prerank"]), st.text(max_size=8)))
def test_get_recommend_never_fails(client, user_id, k, filter_seen, stage):
    _check(client.get("/recommend", params={"user_id": user_id, "k": str(k), "filter_seen": str(filter_seen),
                                            "stage": stage}))


@SETTINGS
@given(item_id=item_ids, k=ks)
def test_get_similar_items_never_fails(client, item_id, k):
    _check(client.get("/similar-items", params={"item_id": item_id, "k": str(k)}))


@SETTINGS
@given(body=st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "features": st.one_of(st.dictionaries(st.sampled_from(["segment", "age", "other"]), json_values, max_size=3),
                              json_values),
        "history": st.one_of(st.lists(st.one_of(item_ids, st.integers()), max_size=8), json_values),
        "k": ks, "stage": st.text(max_size=8)})))
def test_post_recommend_never_fails(client, body):
    _check(client.post("/recommend", json=body))


@pytest.mark.parametrize("raw", [b'{"features": {"age": Infinity}}', b'{"features": {"age": NaN}}', b'{"k": NaN}',
                                 b'{"history": [' + b"[" * 5000 + b"]" * 5000 + b"]}", b'{"features": {"segment": 1e999}}'])
def test_non_finite_and_deep_json(client, raw):
    _check(client.post("/recommend", content=raw, headers={"content-type": "application/json"}))


@SETTINGS
@given(raw=st.binary(max_size=3000))
def test_arbitrary_bytes_never_fail(client, raw):
    _check(client.post("/recommend", content=raw, headers={"content-type": "application/json"}))
