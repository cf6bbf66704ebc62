"""``drgkit serve`` through FastAPI's in-process client: every endpoint, the error shape, limits, the token, the
settlement-list structure, batch round trips, and answers equal to :func:`drgkit.group` and the CLI's ``--json``.
(``test_serve_live.py`` runs the same service as a real server on 127.0.0.1.)"""

from __future__ import annotations

import base64
import io
import json
import socket
import warnings
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's note on httpx versions, not about drgkit
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

import drgkit
from drgkit.cli import app as cli_app
from drgkit.serve import ServeSettings, create_app
from drgkit.serve.settings import SettingsError

SCHEMES = ("chs-drg-1.1", "suzhou-2023")
COMPARED = (
    "status",
    "reason",
    "warnings",
    "mdc",
    "adrg",
    "drg",
    "drg_name",
    "cc_level",
    "cc_code",
    "scheme",
    "scheme_checksum",
)
CASES = [
    {"case_id": "A1", "gender": "1", "age": "65", "dx": "I21.000x005|E11.900", "px": "36.0601"},
    {"case_id": "A2", "gender": "2", "age": "75", "dx": "J18.900|I50.900|E11.900", "px": ""},
    {"case_id": "A3", "gender": "1", "age": "60", "dx": "I21.000", "px": ""},  # grey principal: U05
    {"case_id": "A4", "gender": "男", "age": "82岁", "dx": "I63.900|I10.x00", "px": ""},
    {"case_id": "A5", "gender": "2", "age": "abc", "dx": "J18.900", "px": ""},  # unreadable age: V06
    {"case_id": "A6", "gender": "2", "age": "0", "age_days": "3", "birth_weight": "1400", "dx": "P07.100", "px": ""},
    {"case_id": "A7", "gender": "1", "age": "40", "dx": "XYZ.123|E11.900", "px": ""},  # unknown principal
]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeSettings(schemes=SCHEMES))) as c:
        yield c


def expected(cases: list[dict], scheme: str = "chs-drg-1.1") -> list[dict]:
    keys = list(dict.fromkeys(k for c in cases for k in c))
    table = pa.table({k: pa.array([c.get(k) for c in cases], pa.string()) for k in keys})
    return drgkit.group(table, scheme=scheme).select(list(COMPARED)).to_pylist()


def error_shape(response, status: int, code: str, field: str | None = "__any__") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "field", "message"}, body
    assert body["code"] == code, body
    if field != "__any__":
        assert body["field"] == field, body
    assert "Traceback" not in body["message"] and "\n" not in body["message"]
    return body


# ------------------------------------------------------------------------------ /v1/group
def test_group_one_case_equals_drgkit_group(client):
    for case, want in zip(CASES, expected(CASES)):
        got = client.post("/v1/group", json=case).json()
        assert {k: got[k] for k in COMPARED} == want, case
        assert got["case_id"] == case["case_id"]


def test_group_array_equals_drgkit_group_and_names(client):
    body = client.post("/v1/group", json=CASES).json()
    assert body["count"] == len(CASES) and body["scheme"] == "chs-drg-1.1"
    assert [{k: r[k] for k in COMPARED} for r in body["results"]] == expected(CASES)
    assert sum(body["statuses"].values()) == len(CASES)
    first = body["results"][0]
    assert first["mdc_name"] == "循环系统疾病及功能障碍" and first["adrg_name"] and first["status_zh"] == "入组"
    second = body["results"][1]
    assert second["cc_level"] == "mcc" and second["cc_code"] == "I50.900" and second["cc_name"] == "心力衰竭"
    grey = body["results"][2]
    assert grey["status"] == "ungroupable" and grey["reason"].startswith("U05") and "灰码" in grey["reason_zh"]


def test_group_envelope_scheme_and_pricing(client):
    body = client.post(
        "/v1/group",
        json={
            "cases": [{**CASES[1], "total_cost": "18,650.00"}],
            "scheme": "suzhou-2023",
            "price": {"table": "suzhou-2023", "level": "level3"},
        },
    ).json()
    r = body["results"][0]
    assert body["priced"] and r["scheme"] == "suzhou-2023" and r["drg"] == "ES31"
    priced = drgkit.price(
        drgkit.group(pa.table({k: [v] for k, v in {**CASES[1], "total_cost": "18650"}.items()}), scheme="suzhou-2023"),
        "suzhou-2023",
        level="level3",
    ).to_pylist()[0]
    assert r["standard_payment"] == pytest.approx(priced["standard_payment"])
    assert r["case_type"] == priced["case_type"] and r["case_type_zh"] == "正常病例"
    assert r["weight"] == pytest.approx(priced["rw"])
    # the same through query parameters
    q = client.post(
        "/v1/group?scheme=suzhou-2023&table=suzhou-2023&level=level3", json={**CASES[1], "total_cost": "18650"}
    ).json()
    assert q["standard_payment"] == pytest.approx(priced["standard_payment"])


def test_settlement_list_4101_structure(client):
    canonical = client.post(
        "/v1/group",
        json={
            "case_id": "S1",
            "gender": "1",
            "age": "65",
            "dx": ["I21.000x005", "E11.900"],
            "px": ["36.0601", "00.6600"],
        },
    ).json()
    stay = {
        "setlinfo": {
            "setl_id": "S1",
            "gend": "1",
            "age": 65,
            "act_ipt_days": 6,
            "dscg_way": "1",
            "psn_name": "张三",
            "insutype": "310",
        },
        "diseinfo": [
            {"diag_code": "E11.900", "diag_name": "2型糖尿病", "maindiag_flag": "0", "diag_type": "1"},
            {"diag_code": "I21.000x005", "maindiag_flag": "1", "diag_type": "1"},
            {"diag_code": "BNV050", "maindiag_flag": "0", "diag_type": "2"},
        ],  # TCM: not grouped
        "oprninfo": [
            {"oprn_oprt_code": "00.6600", "main_oprn_flag": "0"},
            {"oprn_oprt_code": "36.0601", "main_oprn_flag": "1"},
        ],
    }
    for body in (stay, {"infno": "4101A", "input": stay}):
        got = client.post("/v1/group", json=body).json()
        assert {k: got[k] for k in COMPARED if k != "warnings"} == {
            k: canonical[k] for k in COMPARED if k != "warnings"
        }
        assert got["case_id"] == "S1"
        assert "BNV050" in got["warnings"] and "diag_type" in got["warnings"]
        assert "psn_name" in got["ignored_fields"]
    # no diagnosis flagged principal: the principal slot stays blank (V05), never filled with another code
    unflagged = {
        "setlinfo": {"gend": "1", "age": 65},
        "diseinfo": [{"diag_code": "E11.900", "maindiag_flag": "0"}],
        "oprninfo": [],
    }
    got = client.post("/v1/group", json=unflagged).json()
    assert got["status"] == "invalid" and got["reason"].startswith("V05")
    # an array of stays, and a bad entry failing only its own stay
    bad = {"setlinfo": {"gend": "1", "age": 65}, "diseinfo": [{"diag_code": 123, "maindiag_flag": "1"}]}
    body = client.post("/v1/group", json=[stay, bad]).json()
    assert [r["status"] for r in body["results"]] == ["ok", "invalid"]
    assert body["results"][1]["error"]["field"] == "diseinfo[0].diag_code"


def test_chinese_labels_and_interface_codes(client):
    want = client.post("/v1/group", json=CASES[1]).json()
    for case in (
        {
            "病案号": "A2",
            "性别": "女",
            "年龄": "75岁",
            "主要诊断编码": "J18.900",
            "其他诊断编码1": "I50.900",
            "其他诊断编码2": "E11.900",
        },
        {
            "setl_id": "A2",
            "gend": "2",
            "age": 75,
            "diag_code1": "J18.900",
            "diag_code2": "I50.900",
            "diag_code3": "E11.900",
        },
    ):
        got = client.post("/v1/group", json=case).json()
        assert {k: got[k] for k in ("status", "drg", "cc_code")} == {k: want[k] for k in ("status", "drg", "cc_code")}
    # an array mixing layouts reads each case by its own fields
    body = client.post(
        "/v1/group", json=[CASES[0], {"性别": "女", "年龄": 75, "主要诊断编码": "J18.900", "其他诊断编码1": "I50.900"}]
    ).json()
    assert [r["drg"] for r in body["results"]] == ["FM19", want["drg"]]


def test_bad_values_are_per_case(client):
    body = client.post(
        "/v1/group",
        json=[
            {"gender": "1", "age": [65], "dx": "J18.900"},
            {"gender": True, "age": 65, "dx": "J18.900"},
            {"gender": "1", "age": 65, "dx": [123]},
            {"gender": "1", "age": {"years": 65}, "dx": "J18.900"},
            "J18.900",
            CASES[0],
        ],
    ).json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses[:5] == ["invalid"] * 5 and statuses[5] == "ok"
    fields = [r["error"]["field"] for r in body["results"][:5]]
    assert fields == ["age", "gender", "dx", "age", None]
    assert all(r["reason"].startswith("V06") for r in body["results"][:5])
    # a readable but wrong value is the grouper's own V06, as drgkit group says it
    one = client.post("/v1/group", json=CASES[4]).json()
    assert one["status"] == "invalid" and one["reason"] == expected([CASES[4]])[0]["reason"]


def test_unknown_fields(client):
    got = client.post("/v1/group", json={**CASES[0], "foo": "bar", "备注": "x"}).json()
    assert got["status"] == "ok" and set(got["ignored_fields"]) == {"foo", "备注"}
    error_shape(client.post("/v1/group", json={"cases": [CASES[0]], "colour": "red"}), 422, "unknown_field", "colour")
    error_shape(
        client.post("/v1/group", json={"cases": [CASES[0]], "options": {"fast": True}}),
        422,
        "unknown_field",
        "options.fast",
    )
    error_shape(
        client.post("/v1/group", json={"cases": [CASES[0]], "price": {"table": "suzhou-2023", "x": 1}}),
        422,
        "unknown_field",
        "price.x",
    )
    # a field holding codes that would go unread is named, with the mapping that reads it
    got = client.post("/v1/group", json={**CASES[0], "other_codes": "E11.900"}).json()
    assert got["status"] == "invalid" and got["error"]["code"] == "unread_code_field"
    assert got["error"]["field"] == "other_codes" and "mapping" in got["error"]["message"]
    case = {"gender": "2", "age": "75", "first": "J18.900", "other_codes": "I50.900"}
    mapped = client.post(
        "/v1/group", json={"cases": [case], "mapping": {"first": "dx_main", "other_codes": "dx_other"}}
    ).json()
    assert mapped["results"][0]["cc_code"] == "I50.900"


def test_malformed_requests(client):
    error_shape(client.post("/v1/group", content=b'{"dx": "I21.000",'), 400, "malformed_json", None)
    error_shape(client.post("/v1/group", content=b""), 400, "empty_body", None)
    error_shape(client.post("/v1/group", content=b"\xff\xfe{}"), 400, "malformed_json", None)
    error_shape(client.post("/v1/group", json=42), 422, "invalid_body", None)
    error_shape(client.post("/v1/group", json={"cases": "A1"}), 422, "invalid_field", "cases")
    error_shape(client.post("/v1/group?base_rate=abc", json=CASES[0]), 422, "invalid_parameter", "base_rate")
    error_shape(client.post("/v1/group?level=level3", json=CASES[0]), 422, "missing_field", "table")
    error_shape(client.get("/v1/nothing"), 404, "not_found", None)
    error_shape(client.get("/v1/group"), 405, "method_not_allowed", None)
    error_shape(client.post("/v1/explain", content=b"[1,"), 400, "malformed_json", None)


def test_no_client_chosen_server_paths(client, tmp_path):
    folder = Path(drgkit.__file__).parents[2] / "grouper" / "chs-drg-1.1"
    error_shape(client.post(f"/v1/group?scheme={folder}", json=CASES[0]), 422, "unknown_scheme", "scheme")
    error_shape(
        client.post("/v1/group", json={"cases": [CASES[0]], "scheme": "chs-drg-2.0"}), 422, "unknown_scheme", "scheme"
    )
    table = tmp_path / "my.csv"
    table.write_text("drg,rw\nFM19,1\n")
    for name in (str(table), "../tables/suzhou-2023.csv", "/etc/passwd"):
        error_shape(
            client.post("/v1/group", json={"cases": [CASES[0]], "price": {"table": name}}),
            422,
            "unknown_table",
            "price.table",
        )
        error_shape(client.post("/v1/whatif", json={**CASES[1], "table": name}), 422, "unknown_table", "table")


# ------------------------------------------------------------------------------ explain / whatif / validate
def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_explain_equals_cli_json(client):
    got = client.post("/v1/explain", json={"dx": "I21.000x005|E11.900", "px": "36.0601", "age": 65, "sex": 1}).json()
    assert got == cli_json(
        "explain", "--dx", "I21.000x005|E11.900", "--px", "36.0601", "--age", "65", "--sex", "1", "--json"
    )
    newborn = client.post(
        "/v1/explain",
        json={"dx": "P07.100", "age": 0, "age_days": 3, "weight": 1400, "sex": 2, "scheme": "suzhou-2023"},
    ).json()
    assert newborn == cli_json(
        "explain",
        "--dx",
        "P07.100",
        "--age",
        "0",
        "--age-days",
        "3",
        "--weight",
        "1400",
        "--sex",
        "2",
        "--scheme",
        "suzhou-2023",
        "--json",
    )
    with_text = client.post("/v1/explain?text=zh", json={"dx": ["J18.900", "I50.900"], "gender": "女", "age": 70})
    assert "路径" in with_text.json()["text"] and with_text.json()["drg"] == "ES31"
    error_shape(client.post("/v1/explain", json=[1]), 422, "invalid_body", None)
    error_shape(client.post("/v1/explain", json={"dx": "J18.900", "age": [1]}), 422, "invalid_field", "age")


def test_whatif_equals_cli_json(client):
    got = client.post("/v1/whatif", json={"dx": "J18.900|I50.900|E11.900", "age": 75, "sex": 2}).json()
    assert got == cli_json("whatif", "--dx", "J18.900|I50.900|E11.900", "--age", "75", "--sex", "2", "--json")
    priced = client.post(
        "/v1/whatif",
        json={
            "dx": "J18.900|I50.900",
            "age": 75,
            "sex": 2,
            "scheme": "suzhou-2023",
            "table": "suzhou-2023",
            "level": "level3",
            "add_dx": ["N17.900"],
        },
    ).json()
    assert priced == cli_json(
        "whatif",
        "--dx",
        "J18.900|I50.900",
        "--age",
        "75",
        "--sex",
        "2",
        "--scheme",
        "suzhou-2023",
        "--table",
        "suzhou-2023",
        "--level",
        "level3",
        "--add-dx",
        "N17.900",
        "--json",
    )
    error_shape(client.post("/v1/whatif", json={"dx": "J18.900", "add_dx": 5}), 422, "invalid_field", "add_dx")


def test_validate_equals_drgkit_validate(client):
    cases = [
        {"case_id": "V1", "gender": "1", "age": "30", "dx": "O80.000", "los": "3"},
        {"case_id": "V2", "gender": "2", "age": "30", "dx": "O80.000", "los": "3"},
    ]
    table = pa.table({k: pa.array([c[k] for c in cases], pa.string()) for k in cases[0]})
    want = drgkit.validate(table).to_pylist()
    body = client.post("/v1/validate", json=cases).json()
    assert body["results"] == want and body["flagged"] == sum(1 for w in want if w["edits"])
    one = client.post("/v1/validate", json=cases[0]).json()
    assert one == want[0] and "S01" in one["edits"]
    off = client.post("/v1/validate", json={"cases": cases, "disable": ["S01"]}).json()
    assert "S01" not in off["results"][0]["edits"]
    error_shape(client.post("/v1/validate", json={"cases": cases, "disable": "S01"}), 422, "invalid_field", "disable")


# ------------------------------------------------------------------------------ /v1/batch
def sample_table(n: int = 120) -> pa.Table:
    from drgkit.demo.export import coder_export

    return coder_export(n)


def upload(client, name: str, data: bytes, **fields):
    return client.post("/v1/batch", files={"file": (name, data)}, data={k: str(v) for k, v in fields.items()})


def _tmp_of(client) -> Path:
    """The server's private temporary folder (uploads and results live in sub-folders of it, briefly)."""
    return client.app.state.tmp_root


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_batch_round_trip(client, tmp_path, suffix):
    table = sample_table()
    source = tmp_path / f"export{suffix}"
    drgkit.io.write_table(table, source) if suffix != ".xlsx" else _write_xlsx(table, source)
    r = upload(client, source.name, source.read_bytes(), explain="problems")
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    out = tmp_path / f"out{suffix}"
    out.write_bytes(r.content)
    want = drgkit.group(source)
    if suffix == ".parquet":
        got = pq.read_table(out)
        assert got.num_rows == table.num_rows
        assert got.column("status").to_pylist() == want.column("status").to_pylist()
        assert got.column("drg").to_pylist() == want.column("drg").to_pylist()
    elif suffix == ".csv":
        got = pacsv.read_csv(io.BytesIO(r.content), convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        assert got.num_rows == table.num_rows
        assert got.column("status").to_pylist() == want.column("status").to_pylist()
    else:
        book = openpyxl.load_workbook(out, read_only=True)
        assert {"汇总", "问题病例"} <= set(book.sheetnames)
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        assert len(rows) == table.num_rows + 1 and "状态" in rows[0]
    summary = json.loads(base64.b64decode(r.headers["x-drgkit-summary"]))
    assert summary["rows"] == table.num_rows == int(r.headers["x-drgkit-rows"])
    assert sum(summary["statuses"].values()) == table.num_rows
    assert all(p["status"] != "ok" for p in summary["problems"])
    assert not any(_tmp_of(client).iterdir())  # nothing left behind


def _write_xlsx(table: pa.Table, path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(table.column_names)
    for row in table.to_pylist():
        sheet.append([None if v is None else str(v) for v in row.values()])
    book.save(path)


def test_batch_errors_leave_nothing(client, tmp_path):
    error_shape(upload(client, "cases.pdf", b"%PDF-1.4"), 415, "unsupported_file", "file")
    error_shape(client.post("/v1/batch", json=CASES), 415, "unsupported_media_type", None)
    error_shape(client.post("/v1/batch", files={"other": ("a.csv", b"x")}), 422, "missing_field", "file")
    body = error_shape(upload(client, "cases.csv", b"\x89PNG\r\n\x1a\n garbage"), 422, "input_error", None)
    assert "cases.csv" in body["message"] and "upload" not in body["message"] and "/tmp" not in body["message"]
    error_shape(upload(client, "cases.csv", "性别,年龄\n1,65\n".encode()), 422, "input_error", None)
    error_shape(upload(client, "cases.csv", b"dx\nI10.x00\n", table="/etc/passwd"), 422, "unknown_table")
    error_shape(upload(client, "cases.csv", b"dx\nI10.x00\n", explain="everything"), 422, "invalid_field", "explain")
    assert not any(_tmp_of(client).iterdir())


def test_batch_format_and_mapping(client):
    data = "住院号,性别,年龄,诊断\nZ1,男,65,I21.000x005|E11.900\nZ2,女,70,J18.900|I50.900\n".encode()
    r = upload(client, "his.csv", data, map="住院号=case_id\n诊断=dx", format="parquet")
    assert r.status_code == 200, r.text
    got = pq.read_table(io.BytesIO(r.content))
    assert got.column("住院号").to_pylist() == ["Z1", "Z2"] and got.column("status").to_pylist() == ["ok", "ok"]


# ------------------------------------------------------------------------------ reference data, service
def test_codes_lookup(client):
    found = client.get("/v1/codes", params={"q": "I21.0", "kind": "dx", "limit": 5}).json()
    assert found[0]["code"] == "I21.000" and found[0]["grey"] is True and found[0]["mcc"] is True
    assert all(f["code"].startswith("I21.0") for f in found) and len(found) == 5
    assert client.get("/v1/codes", params={"q": "i210", "kind": "dx", "limit": 1}).json()[0]["code"] == "I21.000"
    names = client.get("/v1/codes", params={"q": "心力衰竭", "kind": "dx"}).json()
    assert names and all("心力衰竭" in f["name"] for f in names) and names[0]["name"].startswith("心力衰竭")
    px = client.get("/v1/codes", params={"q": "36.06", "kind": "px", "limit": 3}).json()
    assert px[0]["kind"] == "px" and "or_procedure" in px[0] and "mcc" not in px[0]
    error_shape(client.get("/v1/codes", params={"q": "I21", "limit": 1000}), 422, "invalid_parameter", "limit")
    error_shape(client.get("/v1/codes", params={"q": "I21", "scheme": "nope"}), 422, "unknown_scheme", "scheme")


def test_schemes_tables_health_metrics(client):
    schemes = client.get("/v1/schemes").json()
    served = [s["id"] for s in schemes if s["served"]]
    assert served == sorted(SCHEMES) and [s["id"] for s in schemes if s["default"]] == ["chs-drg-1.1"]
    assert any(s["id"] == "chs-drg-2.0" and not s["served"] for s in schemes)
    tables = {t["id"]: t for t in client.get("/v1/tables").json()}
    assert tables["suzhou-2023"]["usable"] and "level3" in tables["suzhou-2023"]["levels"]
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["schemes"] == list(SCHEMES) and health["auth"] is False
    text = client.get("/metrics").text
    assert 'drgkit_requests_total{method="POST",route="/v1/group",status="200"}' in text
    assert "drgkit_cases_grouped_total" in text
    stats = client.get("/v1/metrics").json()
    assert stats["cases_grouped"] > 0 and stats["latency"]["/v1/group"]["count"] > 0


def test_page_docs_and_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "分组工作台" in page.text and '<script src="/static/app.js"' in page.text
    for name, value in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")):
        assert page.headers[name] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "access-control-allow-origin" not in client.get("/v1/schemes", headers={"Origin": "http://evil"}).headers
    for asset in ("app.js", "style.css", "docs.js"):
        assert client.get(f"/static/{asset}").status_code == 200
    assert "innerHTML" not in client.get("/static/app.js").text  # the page writes text, never markup
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/group", "/v1/explain", "/v1/whatif", "/v1/validate", "/v1/batch", "/v1/codes"} <= set(spec["paths"])
    case = spec["components"]["schemas"]["Case"]
    described = case["properties"]["gender"]["description"]
    assert "性别" in described and "sex" in described
    assert "diseinfo" in spec["components"]["schemas"]["SettlementCase"]["properties"]
    error_shape(client.get("/v1/schemes", headers={"Host": "evil.example"}), 400, "bad_host", "Host")


# ------------------------------------------------------------------------------ safety: token, limits, binding
def test_token_required():
    with TestClient(create_app(ServeSettings(schemes=("chs-drg-1.1",), token="s3cret-token"))) as c:
        error_shape(c.post("/v1/group", json=CASES[0]), 401, "unauthorized", "Authorization")
        assert c.post("/v1/group", json=CASES[0], headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert c.get("/metrics").status_code == 401
        ok = c.post("/v1/group", json=CASES[0], headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.json()["drg"] == "FM19"
        assert c.get("/").status_code == 200 and c.get("/healthz").json()["auth"] is True


def test_limits_413():
    with TestClient(
        create_app(
            ServeSettings(schemes=("chs-drg-1.1",), max_cases=3, max_body=4096, max_upload=2048, max_batch_rows=5)
        )
    ) as c:
        error_shape(c.post("/v1/group", json=[CASES[0]] * 4), 413, "too_many_cases", "cases")
        assert c.post("/v1/group", json=[CASES[0]] * 3).status_code == 200
        error_shape(c.post("/v1/group", json={"cases": [CASES[0]], "pad": "x" * 5000}), 413, "too_large", None)

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 1000

        error_shape(
            c.post("/v1/group", content=chunks(), headers={"Content-Type": "application/json"}), 413, "too_large", None
        )
        error_shape(upload(c, "big.csv", b"dx\n" + b"I10.x00\n" * 400), 413, "too_large", None)
        error_shape(upload(c, "rows.csv", b"dx\n" + b"I10.x00\n" * 8), 413, "too_many_rows", "file")
        assert not any(_tmp_of(c).iterdir())


def test_cors_only_when_configured():
    with TestClient(create_app(ServeSettings(schemes=("chs-drg-1.1",), cors_origins=("http://his.local:8080",)))) as c:
        r = c.get("/v1/schemes", headers={"Origin": "http://his.local:8080"})
        assert r.headers["access-control-allow-origin"] == "http://his.local:8080"
        assert "access-control-allow-origin" not in c.get("/v1/schemes", headers={"Origin": "http://x"}).headers


def test_internal_errors_are_json():
    app = create_app(ServeSettings(schemes=("chs-drg-1.1",)))
    with TestClient(app, raise_server_exceptions=False) as c:
        app.state.engine.answer = lambda job: 1 / 0
        body = error_shape(c.post("/v1/group", json=CASES[0]), 500, "internal_error", None)
        assert "ZeroDivision" not in body["message"]


def test_bind_safety():
    with pytest.raises(SettingsError, match="--token"):
        ServeSettings(host="0.0.0.0").check()
    assert ServeSettings(host="0.0.0.0", token="a-long-token").check()
    assert ServeSettings(host="0.0.0.0", insecure=True).check()
    assert ServeSettings(host="::1").check() and ServeSettings(host="localhost").check()
    with pytest.raises(SettingsError):
        ServeSettings(cors_origins=("*",)).check()
    runner = CliRunner()
    result = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--token" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(cli_app, ["serve", "--scheme", "no-such-scheme"])
    assert result.exit_code == 2 and "unknown scheme" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli_app, ["serve", "--port", str(port)])
        assert result.exit_code == 2 and "already in use" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
