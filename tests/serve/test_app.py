"""The HTTP service: every endpoint, each bad input, metrics, and the OpenAPI schema."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from contrarec.serve.app import create_app
from contrarec.serve.recommender import ServingModel
from contrarec.serve.swap import ModelHolder


@pytest.fixture(scope="module")
def serving(export_dir) -> ServingModel:
    return ServingModel.load(export_dir)


@pytest.fixture(scope="module")
def client(serving, export_dir):
    holder = ModelHolder(serving, paths={"export": str(export_dir)})
    with TestClient(create_app(holder, max_body_bytes=4096)) as c:
        yield c


def test_recommend_known_user_matches_the_library(client, serving):
    r = client.get("/recommend", params={"user_id": "u3", "k": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    want = serving.recommend(["u3"], k=7)
    assert body["items"] == list(want.ids[0]) and body["user_id"] == "u3" and body["stage"] == "recall"
    np.testing.assert_allclose(body["scores"], want.scores[0], rtol=1e-5)
    seen = {f"i{j}" for j in serving.exported.seen_items(3)}
    assert not seen & set(body["items"])


def test_filter_seen_can_be_turned_off(client, serving):
    body = client.get("/recommend", params={"user_id": "u3", "k": 90, "filter_seen": "false"}).json()
    assert len(body["items"]) == 90  # the whole catalogue, seen items included


def test_k_beyond_the_catalogue_returns_what_exists(client, serving):
    body = client.get("/recommend", params={"user_id": "u3", "k": 1000}).json()
    assert len(body["items"]) == 90 - len(serving.exported.seen_items(3))


def test_recommend_new_user_through_the_tower(client, serving):
    r = client.post("/recommend", json={"features": {"segment": "b", "age": 0.3}, "history": ["i1", "i4"], "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["items"]) == 5 and not {"i1", "i4"} & set(body["items"])
    assert client.post("/recommend", json={}).status_code == 200  # no features, no history: the mean user


def test_similar_items(client):
    body = client.get("/similar-items", params={"item_id": "i2", "k": 4}).json()
    assert len(body["items"]) == 4 and "i2" not in body["items"]


@pytest.mark.parametrize("call, needle", [
    (lambda c: c.get("/recommend", params={"user_id": "ghost"}), "ghost"),
    (lambda c: c.get("/similar-items", params={"item_id": "nope"}), "nope"),
    (lambda c: c.post("/recommend", json={"history": ["i1", "zzz"]}), "zzz"),
])
def test_unknown_ids_are_404_naming_them(client, call, needle):
    r = call(client)
    assert r.status_code == 404
    assert needle in r.json()["error"]


@pytest.mark.parametrize("k", [0, -3, 1001, 10**9])
def test_k_out_of_range_is_422_with_the_range(client, k):
    for r in (client.get("/recommend", params={"user_id": "u1", "k": k}),
              client.get("/similar-items", params={"item_id": "i1", "k": k}),
              client.post("/recommend", json={"k": k})):
        assert r.status_code == 422
        assert "[1, 1000]" in r.json()["error"]


@pytest.mark.parametrize("content, kind", [
    (b"{not json", "application/json"),
    (b'{"k": "many"}', "application/json"),
    (b'{"history": "i1"}', "application/json"),
    (b'{"features": {"age": [1, 2]}}', "application/json"),
    (b'{"features": {"colour": "red"}}', "application/json"),
    (b'{"unexpected": 1}', "application/json"),
    (b"[1, 2, 3]", "application/json"),
])
def test_malformed_or_mistyped_bodies_are_422(client, content, kind):
    r = client.post("/recommend", content=content, headers={"content-type": kind})
    assert r.status_code == 422, r.text
    assert r.json()["error"]


def test_wrong_query_types_are_422(client):
    assert client.get("/recommend", params={"user_id": "u1", "k": "ten"}).status_code == 422
    assert client.get("/recommend").status_code == 422
    assert client.get("/recommend", params={"user_id": "u1", "stage": "magic"}).status_code == 422


def test_oversized_body_is_413(client):
    big = {"history": ["i1"] * 2000}
    r = client.post("/recommend", json=big)
    assert r.status_code == 413 and "4096" in r.json()["error"]

    def chunks():
        for _ in range(10):
            yield b" " * 1000  # no Content-Length: streamed past the limit

    assert client.post("/recommend", content=chunks(), headers={"content-type": "application/json"}).status_code == 413


def test_prerank_stage_without_a_preranker_is_422(client):
    r = client.get("/recommend", params={"user_id": "u1", "stage": "prerank"})
    assert r.status_code == 422 and "pre-ranker" in r.json()["error"]


def test_health_metrics_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["items"] == 90 and health["exact"] is True
    client.get("/recommend", params={"user_id": "u1"})
    text = client.get("/metrics").text
    assert 'contrarec_requests_total{route="/recommend",method="GET",status="200"}' in text
    assert 'contrarec_request_latency_seconds{route="/recommend",quantile="0.99"}' in text
    schema = client.get("/openapi.json").json()
    assert {"/recommend", "/similar-items", "/health", "/metrics", "/admin/reload"} <= set(schema["paths"])
    k = next(p for p in schema["paths"]["/recommend"]["get"]["parameters"] if p["name"] == "k")
    assert k["schema"]["maximum"] == 1000 and k["schema"]["minimum"] == 1


def test_unknown_route_is_json_404(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and "error" in r.json()


def test_app_factory_reads_its_config_from_the_environment(export_dir, monkeypatch):
    import json

    from contrarec.serve.service import ENV, app_factory

    monkeypatch.setenv(ENV, json.dumps({"export": str(export_dir), "threads": 1, "max_batch": 8}))
    with TestClient(app_factory()) as c:
        assert c.get("/health").json()["items"] == 90
        assert c.get("/recommend", params={"user_id": "u1", "k": 3}).status_code == 200


@pytest.mark.parametrize("params", [{"user_id": "u3", "k": "7"}, {"user_id": "u3", "k": "1000", "filter_seen": "0"},
                                    {"user_id": "u8", "stage": "recall"}])
def test_fast_lane_answers_exactly_as_the_route(client, params):
    """The fast lane and the FastAPI route give the same bytes (odd spellings force the FastAPI route)."""
    fast = client.get("/recommend", params=params)
    slow = client.get("/recommend", params={**params, "k": " " + params.get("k", "20")})  # pydantic strips spaces
    assert fast.status_code == slow.status_code == 200
    assert fast.json() == slow.json()
    item_fast = client.get("/similar-items", params={"item_id": "i4", "k": "5"})
    item_slow = client.get("/similar-items", params={"item_id": "i4", "k": "05"})
    assert item_fast.json() == item_slow.json()


def test_fast_lane_leaves_duplicates_and_unknown_parameters_to_fastapi(client):
    r = client.get("/recommend?user_id=u1&user_id=u2&k=3")
    assert r.status_code == 200 and r.json()["user_id"] == "u2"  # FastAPI keeps the last value
    assert client.get("/recommend?user_id=u1&k=3&extra=1").status_code == 200  # FastAPI ignores extras
