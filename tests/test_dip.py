"""DIP catalogue builder and grouper: planted structure, unmatched cases, editable catalogue."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from drgkit import dip

# (pdx, px list, n cases, planted mean cost) — see the expectations below
PLANTED = [
    ("K35.300", ["47.0100"], 40, 10_000.0),  # core K35.3:47.0100
    ("K35.300", ["47.0100", "54.5100"], 10, 13_000.0),  # +30 % but 10 < 15 cases: stays in the base group
    ("I21.000", [], 30, 8_000.0),  # core medical group I21.0
    ("I21.000", ["36.0601"], 25, 40_000.0),  # core I21.0:36.0601
    ("I21.000", ["36.0601", "88.5500"], 20, 41_200.0),  # angiography +3 %: not its own group
    ("I21.000", ["36.0601", "00.2400"], 20, 62_400.0),  # IVUS +54 %: core I21.0:36.0601+00.2400
    ("I21.000", ["36.0700", "00.2400"], 5, 50_000.0),  # rare main → comprehensive I21:surgery
    ("J18.900", ["87.4400"], 10, 3_000.0),  # → J18:diagnostic
    ("J18.900", ["96.0400"], 8, 4_000.0),  # → J18:therapeutic
    ("J18.000", [], 12, 2_500.0),  # → J18:conservative (with J18.1)
    ("J18.100", [], 5, 2_700.0),
    ("K35.800", ["47.0100"], 7, 9_000.0),  # → K35:surgery
    ("K35.300", ["45.2300", "47.0900"], 6, 11_000.0),  # diagnostic main + surgery: highest tier wins
]
CORE = {"K35.3:47.0100": 50, "I21.0": 30, "I21.0:36.0601": 45, "I21.0:36.0601+00.2400": 20}
COMPREHENSIVE = {
    "I21:surgery": 5,
    "J18:diagnostic": 10,
    "J18:therapeutic": 8,
    "J18:conservative": 17,
    "K35:surgery": 13,
}


def planted_history() -> pl.DataFrame:
    rows = []
    for k, (pdx, px, n, mean) in enumerate(PLANTED):
        costs = mean * (1 + np.linspace(-0.2, 0.2, n))  # symmetric: trimming keeps the mean
        for i, cost in enumerate(costs):
            rows.append(
                {
                    "case_id": f"c{k}-{i}",
                    "dx": pdx + "|I10.x00",
                    "px": "|".join(px),
                    "total_cost": float(cost),
                    "age": 50,
                    "gender": "1",
                    "los": 7,
                    "hospital_level": "3" if i % 2 else "2",
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def planted():
    return dip.build(planted_history(), threshold=15)


def test_core_and_comprehensive_groups_found_exactly(planted):
    g = planted.groups
    core = g.filter(pl.col("kind") != "comprehensive")
    assert dict(core.select("group", "n_cases").iter_rows()) == CORE
    comp = g.filter(pl.col("kind") == "comprehensive")
    assert dict(comp.select("group", "n_cases").iter_rows()) == COMPREHENSIVE
    ivus = core.filter(pl.col("group") == "I21.0:36.0601+00.2400").row(0, named=True)
    assert (ivus["dx4"], ivus["main_px"], ivus["related_px"]) == ("I21.0", "36.0601", "00.2400")


def test_planted_scores_recovered(planted):
    n = sum(r[2] for r in PLANTED)
    big_m = sum(r[2] * r[3] for r in PLANTED) / n
    sums: dict[str, list[float]] = {}
    keys = [
        "K35.3:47.0100",
        "K35.3:47.0100",
        "I21.0",
        "I21.0:36.0601",
        "I21.0:36.0601",
        "I21.0:36.0601+00.2400",
        "I21:surgery",
        "J18:diagnostic",
        "J18:therapeutic",
        "J18:conservative",
        "J18:conservative",
        "K35:surgery",
        "K35:surgery",
    ]
    for key, (_, _, cnt, mean) in zip(keys, PLANTED):
        s = sums.setdefault(key, [0.0, 0.0])
        s[0] += cnt * mean
        s[1] += cnt
    scores = dict(planted.groups.select("group", "score").iter_rows())
    for key, (total, cnt) in sums.items():
        assert scores[key] == pytest.approx(total / cnt / big_m * 1000, rel=0.02), key
    assert planted.pv_initial == pytest.approx(big_m / 1000, rel=0.02)


def test_grouping_history_reproduces_the_build(planted):
    out = dip.group(planted_history(), planted)
    assert out["status"].unique().to_list() == ["ok"]
    counts = dict(out.group_by("dip_group").len().iter_rows())
    assert counts == {**CORE, **COMPREHENSIVE}
    assert set(out.filter(pl.col("dip_group").str.contains(":surgery|:diag|:thera|:cons"))["dip_kind"]) == {
        "comprehensive"
    }


def test_unmatched_cases_get_status_and_reason(planted, tmp_path):
    cases = pl.DataFrame(
        {
            "case_id": ["known", "unknown_cat", "no_pdx", "bad_cost", "no_comp", "fake_code"],
            "dx": ["K35.300", "A01.000", "", "K35.300", "J18.900", "ZZ9.999"],
            "px": ["47.0100", "", "", "47.0100", "36.0601", ""],
            "total_cost": ["9000", "5000", "100", "abc", "7000", "100"],
        }
    )
    out = dip.group(cases, planted)
    r = {row["case_id"]: row for row in out.iter_rows(named=True)}
    assert (r["known"]["status"], r["known"]["dip_group"], r["known"]["dip_kind"]) == ("ok", "K35.3:47.0100", "core")
    assert r["unknown_cat"]["status"] == "ungroupable" and r["unknown_cat"]["reason"].startswith("D01")
    assert "A01" in r["unknown_cat"]["reason"] and r["unknown_cat"]["dip_group"] is None
    assert r["no_pdx"]["status"] == "invalid" and r["no_pdx"]["reason"].startswith("V05")
    assert r["bad_cost"]["status"] == "invalid" and "total_cost" in r["bad_cost"]["reason"]
    # J18.9 with an interventional procedure: no core group, no J18 × surgery comprehensive group
    assert r["no_comp"]["status"] == "ungroupable" and r["no_comp"]["reason"].startswith("D02")
    assert "J18 × 相关手术" in r["no_comp"]["reason"] and r["no_comp"]["score"] is None
    assert "U01" in r["fake_code"]["reason"]
    for row in r.values():
        if row["status"] != "ok":
            assert row["dip_group"] is None and row["reason"]


def test_catalogue_round_trip_and_edits(planted, tmp_path):
    folder = planted.write(tmp_path / "cat")
    assert {p.name for p in folder.iterdir()} == {
        "manifest.toml",
        "groups.csv",
        "levels.csv",
        "aux.csv",
        "px_exclusions.csv",
        "cci.csv",
    }
    back = dip.load_catalogue(folder)
    assert back.groups.equals(planted.groups)
    assert back.pv_initial == pytest.approx(planted.pv_initial)
    assert back.param("threshold") == 15
    # edit: drop the IVUS group → its cases fall back to the dx4 + main group
    g = pl.read_csv(folder / "groups.csv", infer_schema_length=0)
    g.filter(pl.col("group") != "I21.0:36.0601+00.2400").write_csv(folder / "groups.csv")
    out = dip.group(planted_history(), folder)
    assert out.filter(pl.col("dip_group") == "I21.0:36.0601").height == 65
    # a bad edit is named
    g.with_columns(
        pl.when(pl.col("group") == "I21.0").then(pl.lit("x")).otherwise(pl.col("score")).alias("score")
    ).write_csv(folder / "groups.csv")
    with pytest.raises(dip.DipError, match=r"row \d+: score is not a number: 'x'"):
        dip.load_catalogue(folder)


def test_coverage_threshold_and_years():
    h = planted_history()
    cat = dip.build(h, coverage=0.80)
    # dx4 × main counts 65, 50, 30, 12, 10, 8, …: 80 % of the 198 cases needs the combinations down to 10 cases
    assert cat.info["threshold_used"] == 10
    core = set(cat.groups.filter(pl.col("kind") != "comprehensive")["group"])
    assert core == set(CORE) | {"J18.0", "J18.9:87.4400", "K35.3:47.0100+54.5100"}  # +30 %, now 10 ≥ 10
    with pytest.raises(dip.DipError, match="year"):
        dip.build(h, years="2022:1,2023:2")
    with pytest.raises(dip.DipError, match="--years"):
        dip.parse_years("2022-1")


def test_a_case_tier_does_not_depend_on_the_other_cases_of_the_batch():
    """42.9200x007 carries two treatment categories; it once duplicated a row in the per-code join and shifted
    the tier of every later code, so case B was 'diagnostic' beside case A and 'therapeutic' alone."""
    from drgkit.dip.features import features, treatment_types

    assert treatment_types()["code"].is_unique().all()
    a = {"case_id": "A", "gender": "1", "age": "60", "dx": "C16.802", "px": "42.9200x007|88.9700"}
    b = {"case_id": "B", "gender": "1", "age": "60", "dx": "D38.501|Q27.306", "px": "31.9804"}
    together = features(pl.DataFrame([a, b]).to_arrow())[1].cases["tier"].to_list()
    alone_a = features(pl.DataFrame([a]).to_arrow())[1].cases["tier"].to_list()
    alone_b = features(pl.DataFrame([b]).to_arrow())[1].cases["tier"].to_list()
    assert together == alone_a + alone_b


def test_dip_rows_do_not_depend_on_their_neighbours_or_the_batch(planted):
    history = planted_history()
    whole = dip.group(history, planted)
    shuffled = np.random.default_rng(3).permutation(history.height)
    parts = pl.concat([dip.group(history[shuffled[i : i + 7].tolist()], planted) for i in range(0, history.height, 7)])
    by_id = {r["case_id"]: (r["status"], r["dip_group"], r["score"]) for r in parts.iter_rows(named=True)}
    assert [by_id[r["case_id"]] for r in whole.iter_rows(named=True)] == list(
        zip(whole["status"], whole["dip_group"], whole["score"])
    )


def test_catalogue_ids_cannot_break_the_manifest_and_rewrites_are_whole(planted, tmp_path):
    import tomllib

    saved_id = planted.info.get("id")
    planted.info["id"] = 'my"cat\nx = 1'
    folder = planted.write(tmp_path / "cat")
    assert tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))["id"] == 'my"cat\nx = 1'
    before = (folder / "groups.csv").read_bytes()

    class Broken(Exception):
        pass

    def fail(*args, **kwargs):
        raise Broken

    original = planted.cci
    planted.cci = type("T", (), {"write_csv": staticmethod(fail)})()
    with pytest.raises(Broken):
        planted.write(folder)  # fails after groups.csv was written: the old catalogue stays whole
    planted.cci = original
    assert (folder / "groups.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat"]
    assert dip.load_catalogue(folder).groups.height == planted.groups.height
    planted.info["id"] = saved_id


def test_groups_are_named_from_the_dictionaries_and_a_catalogues_own_names_win(planted, tmp_path):
    """病种名称: the diagnosis subcategory's name, then the procedures' (or 保守治疗); a comprehensive group: its
    category (named by its unspecified .9 subcategory) and tier. Names written by hand in groups.csv win."""
    names = dict(zip(planted.groups["group"], planted.groups["name"]))
    assert names["I21.0"] == "前壁急性透壁性心肌梗死：保守治疗"
    assert names["I21.0:36.0601+00.2400"] == "前壁急性透壁性心肌梗死：冠状动脉药物涂层支架置入术+冠状血管的血管内显像"
    assert names["K35.3:47.0100"] == "急性阑尾炎伴局限性腹膜炎：腹腔镜下阑尾切除术"
    assert names["J18:diagnostic"] == "肺炎：诊断性操作" and names["I21:surgery"] == "急性心肌梗死：相关手术"
    out = dip.group(planted_history().head(3), planted)
    assert out["dip_group_name"].to_list() == [names[g] for g in out["dip_group"].to_list()]
    folder = tmp_path / "cat"
    planted.write(folder)
    groups = pl.read_csv(folder / "groups.csv", infer_schema_length=0)
    assert groups["name"].to_list() == planted.groups["name"].to_list()  # written with the catalogue
    groups.with_columns(
        pl.when(pl.col("group") == "I21.0").then(pl.lit("急性心梗（内科）")).otherwise(pl.col("name")).alias("name")
    ).write_csv(folder / "groups.csv")
    edited = dip.load_catalogue(folder)
    assert dict(zip(edited.groups["group"], edited.groups["name"]))["I21.0"] == "急性心梗（内科）"
    groups.drop("name").write_csv(folder / "groups.csv")  # a catalogue written before names existed
    assert dip.load_catalogue(folder).groups["name"].to_list() == planted.groups["name"].to_list()
