"""``drgkit serve`` as a real server on 127.0.0.1 (uvicorn in a thread, real sockets, real HTTP): every endpoint,
the settlement-list structure, bad JSON, an oversized body, unknown fields, wrong types, a grey code, 10,000 cases
in one call, and concurrent single-case calls (micro-batched) each answered as if alone."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import threading
import time
from contextlib import contextmanager

import pyarrow.parquet as pq
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

import drgkit  # noqa: E402
from drgkit.serve import ServeSettings, create_app  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(settings: ServeSettings):
    """A real server on 127.0.0.1 for the block; stopped (lifespan shutdown included) afterwards."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="drgkit-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}", app
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def live():
    settings = ServeSettings(port=free_port(), schemes=("chs-drg-1.1", "suzhou-2023"), max_body=8 << 20)
    with running(settings) as (base, app), httpx.Client(base_url=base, timeout=60) as client:
        yield client, app


CASE = {"case_id": "L1", "gender": "1", "age": 65, "dx": ["I21.000x005", "E11.900"], "px": ["36.0601"]}
STAY = {
    "infno": "4101A",
    "input": {
        "setlinfo": {"setl_id": "L1", "gend": "1", "age": 65, "act_ipt_days": 5, "dscg_way": "1"},
        "diseinfo": [
            {"diag_code": "E11.900", "maindiag_flag": "0"},
            {"diag_code": "I21.000x005", "maindiag_flag": "1"},
        ],
        "oprninfo": [{"oprn_oprt_code": "36.0601", "main_oprn_flag": "1"}],
    },
}


def is_error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "field", "message"} and body["code"] == code, body


def test_every_endpoint(live):
    client, app = live
    assert client.get("/healthz").json()["status"] == "ok"
    one = client.post("/v1/group", json=CASE).json()
    assert (one["status"], one["drg"], one["mdc_name"]) == ("ok", "FM19", "循环系统疾病及功能障碍")
    stay = client.post("/v1/group", json=STAY).json()
    assert {k: stay[k] for k in ("status", "drg", "case_id", "cc_level")} == {
        k: one[k] for k in ("status", "drg", "case_id", "cc_level")
    }
    assert (
        client.post("/v1/explain", json={"dx": "I21.000x005|E11.900", "px": "36.0601", "age": 65, "sex": 1}).json()[
            "drg"
        ]
        == "FM19"
    )
    w = client.post("/v1/whatif", json={"dx": "J18.900|I50.900", "age": 75, "sex": 2}).json()
    assert w["now"]["drg"] == "ES31" and w["alternatives"]
    v = client.post("/v1/validate", json={"case_id": "V", "gender": "1", "age": 30, "dx": "O80.000"}).json()
    assert "S01" in v["edits"]
    csv = "病案号,性别,年龄,主要诊断编码,其他诊断编码1\nZ1,男,65,I21.000x005,E11.900\nZ2,女,70,J18.900,I50.900\n"
    r = client.post("/v1/batch", files={"file": ("export.csv", csv.encode())}, data={"format": "parquet"})
    assert r.status_code == 200, r.text
    got = pq.read_table(io.BytesIO(r.content))
    assert got.column("病案号").to_pylist() == ["Z1", "Z2"] and got.column("status").to_pylist() == ["ok", "ok"]
    assert json.loads(base64.b64decode(r.headers["x-drgkit-summary"]))["rows"] == 2
    assert not any(app.state.tmp_root.iterdir())
    assert any(s["served"] for s in client.get("/v1/schemes").json())
    assert any(t["id"] == "suzhou-2023" for t in client.get("/v1/tables").json())
    codes = client.get("/v1/codes", params={"q": "I21.000", "kind": "dx", "limit": 2}).json()
    assert codes[0]["code"] == "I21.000" and codes[0]["grey"] is True
    assert "drgkit_requests_total" in client.get("/metrics").text
    assert client.get("/v1/metrics").json()["cases_grouped"] >= 2
    page = client.get("/")
    assert page.status_code == 200 and "分组工作台" in page.text and page.headers["x-frame-options"] == "DENY"
    assert client.get("/static/app.js").status_code == 200 and client.get("/docs").status_code == 200
    assert "/v1/group" in client.get("/openapi.json").json()["paths"]


def test_errors_over_http(live):
    client, _ = live
    is_error(
        client.post("/v1/group", content=b'{"dx": ["I21.000"', headers={"Content-Type": "application/json"}),
        400,
        "malformed_json",
    )
    is_error(client.post("/v1/group", content=b"x" * (9 << 20)), 413, "too_large")
    is_error(client.post("/v1/group", json={"cases": [CASE], "speed": "max"}), 422, "unknown_field")
    is_error(client.post("/v1/group", json={"cases": [CASE], "scheme": "/etc"}), 422, "unknown_scheme")
    body = client.post("/v1/group", json=[{**CASE, "age": {"y": 65}}, {**CASE, "remark": "留观"}]).json()
    assert [r["status"] for r in body["results"]] == ["invalid", "ok"]
    assert body["results"][0]["error"]["field"] == "age" and body["ignored_fields"] == ["remark"]
    grey = client.post("/v1/group", json={**CASE, "dx": ["I21.000"]}).json()
    assert grey["status"] == "ungroupable" and grey["reason"].startswith("U05") and grey["reason"].endswith("I21.000")


def test_ten_thousand_cases_in_one_call(live):
    from drgkit.demo import generate

    client, _ = live
    table = generate(10_000, scheme="chs-drg-1.1", seed=7)
    keep = ["case_id", "gender", "age", "age_days", "birth_weight", "los", "leaving_type", "dx", "px"]
    table = table.select([c for c in keep if c in table.column_names])
    cases = [{k: (v if not isinstance(v, float) else int(v)) for k, v in row.items()} for row in table.to_pylist()]
    r = client.post("/v1/group", json=cases)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["count"] == 10_000
    want = drgkit.group(table, scheme="chs-drg-1.1")
    for key in ("status", "drg", "cc_code", "reason"):
        assert [x[key] for x in body["results"]] == want.column(key).to_pylist(), key
    is_error(client.post("/v1/group", json=cases + cases[:1]), 413, "too_many_cases")


def test_concurrent_calls_each_as_if_alone(live):
    client, _ = live
    cases = [
        {
            "case_id": f"C{i}",
            "gender": str(1 + i % 2),
            "age": 30 + i % 50,
            "dx": ["J18.900", "I50.900"] if i % 3 == 0 else ["I21.000x005"] if i % 3 == 1 else ["I21.000"],
            "px": ["36.0601"] if i % 3 == 1 else [],
        }
        for i in range(60)
    ]
    alone = [client.post("/v1/group", json=c).json() for c in cases]

    async def together():
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=60) as ac:
            return await asyncio.gather(*(ac.post("/v1/group", json=c) for c in cases))

    answers = [r.json() for r in asyncio.run(together())]
    assert answers == alone
