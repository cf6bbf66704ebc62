"""The human pages of ``drgkit report``, ``drgkit audit`` and ``drgkit simulate`` read in Chinese: Chinese headings,
no raw field names, money in 万元 (the numbers of the Parquet / indicators ÷ 10,000), counts as integers,
scenarios in their file order, CSV with a BOM, an Excel copy, and figures without a missing glyph."""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser

import polars as pl
import pytest
from typer.testing import CliRunner

import drgkit
import drgkit.figures
from drgkit.cli import app
from drgkit.report_words import WORDS, fmt, label, wan

RAW_NAMES = (
    "budget_binding",
    "fund_payable",
    "fund_payment",
    "clearance",
    "sharing_adjustment",
    "prepaid",
    "rate_or_point_value",
    "total_payment",
    "grouping_rate",
    "time_index",
    "cost_index",
    "total_cost",
    "margin_per_case",
    "cc_share",
    "risk_score",
    "risk_signals",
    "split_admission",
    "low_ratio",
)


@pytest.fixture(autouse=True)
def shipped_font(monkeypatch):
    """Every figure here is drawn with the font drgkit ships (a GB 2312 subset), whatever the machine has: the
    strictest case for missing glyphs."""
    from importlib import resources

    from matplotlib import font_manager

    with resources.as_file(resources.files("drgkit").joinpath("fonts", "drgkit-cjk-sans.otf")) as path:
        font_manager.fontManager.addfont(str(path))
    monkeypatch.setattr(drgkit.figures, "chinese_font", lambda: drgkit.figures.SHIPPED_FONT)


class Glyphs:
    """Records warnings; ``missing`` lists matplotlib's "Glyph … missing from font(s)" ones."""

    def __enter__(self):
        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)

    @property
    def missing(self) -> list[str]:
        return [str(w.message) for w in self.caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]


def test_the_glyph_check_catches_a_missing_glyph(tmp_path):
    plt = drgkit.figures.pyplot()
    with Glyphs() as g:
        fig, ax = plt.subplots()
        ax.set_title("龘")  # not in GB 2312, not in DejaVu Sans
        fig.savefig(tmp_path / "x.png")
        plt.close(fig)
    assert g.missing


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts; a header cell's text stops at its <br> (the Chinese label)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._in_small = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "small":
            self._in_small = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None
        elif tag == "small":
            self._in_small = False

    def handle_data(self, data):
        if self._cell is not None and not self._in_small:
            self._cell += data


def tables(page: str) -> list[list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def column(table: list[list[str]], header: str) -> list[str]:
    i = table[0].index(header)
    return [row[i] for row in table[1:]]


def visible(page: str) -> str:
    """The page's text without embedded images, alt texts and markup."""
    page = re.sub(r"<img [^>]*>", "", page)
    return re.sub(r"<[^>]+>", " ", page)


# --- simulate -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    with Glyphs() as g:
        r = CliRunner().invoke(app, ["simulate", "--example", "-o", str(out), "--draws", "20"])
    assert r.exit_code == 0, r.output
    return out, g.missing


def test_simulate_page_is_chinese_with_money_in_wan(simulated):
    out, missing = simulated
    assert not missing, missing
    page = (out / "report.html").read_text(encoding="utf-8")
    text = visible(page)
    for heading in (
        "区域总额预算模拟报告",
        "怎么读这份报告",
        "各情景结果",
        "各医院结果",
        "指标说明",
        "预算封顶",
        "浮动费率/点值",
        "超支分担",
    ):
        assert heading in text
    for raw in RAW_NAMES[:7]:
        assert raw not in text, raw
    assert not re.search(r"\d[eE][+-]?\d", text)  # no 1e8-style numbers
    scen = pl.read_parquet(out / "scenarios.parquet")
    hosp = pl.read_parquet(out / "hospitals.parquet")
    assert "budget_binding" in scen.columns and "fund_payable" in hosp.columns  # machine outputs stay English
    scen_table, *_, hosp_table = tables(page)
    # scenarios in the scenario file's order, not sorted
    toml = (out / "scenarios.toml").read_text(encoding="utf-8")
    file_order = re.findall(r'^name = "(.*)"$', toml, flags=re.M)
    assert column(scen_table, "情景") == file_order == scen["scenario"].to_list()
    assert file_order != sorted(file_order)
    assert list(dict.fromkeys(column(hosp_table, "情景"))) == file_order
    # money in 万元: the parquet's yuan ÷ 10,000, thousands separators, two decimals
    for name in ("budget", "fund_payable", "fund_payment", "total_payment"):
        shown = column(scen_table, label(name))
        assert shown == [f"{v / 1e4:,.2f}" for v in scen[name].to_list()], name
    assert all(re.fullmatch(r"-?[\d,]+\.\d\d", v) for v in column(scen_table, "基金应付（万元）"))
    assert column(scen_table, "预算封顶") == ["是" if b else "否" for b in scen["budget_binding"].to_list()]
    assert all(re.fullmatch(r"[\d,]+", v) for v in column(scen_table, "病例数"))  # counts as integers
    first = hosp_table[1]
    row = hosp.filter((pl.col("scenario") == first[0]) & (pl.col("hospital") == first[1])).row(0, named=True)
    for name in ("revenue", "fund_payable", "clearance", "margin"):
        assert first[hosp_table[0].index(label(name))] == wan(row[name]), name
    assert page.count("data:image/png;base64,") == 4


# --- report (payment indicators) ------------------------------------------------------------------------------

CITIES = ("苏州", "无锡", "常州", "南通", "扬州", "镇江", "泰州", "盐城")


@pytest.fixture(scope="module")
def priced():
    from drgkit.monitor.plant import planted_year

    y = planted_year(4000, seed=5, split_pairs=40, far_pairs=40)
    df = pl.from_arrow(drgkit.price(drgkit.group(y, scheme="suzhou-2023"), "suzhou-2023"))
    names = {h: f"{CITIES[i % len(CITIES)]}市第{i + 1}人民医院" for i, h in enumerate(sorted(df["hospital"].unique()))}
    return df.with_columns(pl.col("hospital").replace(names))


def test_report_page_csv_and_excel(priced, tmp_path):
    from openpyxl import load_workbook

    from drgkit.payment.report import indicators, write_report

    with Glyphs() as g:
        files = write_report(priced, tmp_path, by="hospital")
    assert not g.missing, g.missing
    names = {f.name for f in files}
    assert {"report.html", "indicators.csv", "indicators.xlsx", "losing_drgs.csv", "cmi_grouping_rate.png"} <= names
    per, losing = indicators(priced, "hospital")
    assert "grouping_rate" in per.columns  # the API keeps its canonical names

    raw = (tmp_path / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    csv = pl.read_csv(raw[3:])
    assert csv.columns[:4] == ["医院", "病例数", "入组病例数", "入组率（%）"]
    assert "结余（万元）" in csv.columns and "margin" not in csv.columns
    csv = csv.join(per.select("hospital", "margin", "grouping_rate", "cases"), left_on="医院", right_on="hospital")
    assert csv.height == per.height
    for r in csv.iter_rows(named=True):
        assert r["结余（万元）"] == pytest.approx(round(r["margin"] / 1e4, 2))
        assert r["入组率（%）"] == pytest.approx(round(100 * r["grouping_rate"], 2))
        assert r["病例数"] == r["cases"]
    assert (tmp_path / "losing_drgs.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    sheet = load_workbook(tmp_path / "indicators.xlsx").active
    assert [c.value for c in sheet[1]][:4] == ["医院", "病例数", "入组病例数", "入组率（%）"]

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    text = visible(page)
    for heading in (
        "DRG 运行指标报告",
        "总体情况",
        "CMI 与入组率",
        "各医院指标",
        "亏损最多的 DRG 组",
        "指标说明",
        "病例组合指数",
    ):
        assert heading in text
    for raw_name in RAW_NAMES[7:13]:
        assert raw_name not in text, raw_name
    assert "苏州市第1人民医院" in text
    overall = priced.filter(pl.col("status") == "ok")["rw"].mean()
    assert f"CMI（全部入组病例）：{overall:.3f}" in text.replace(" ", "")
    _, per_table, losing_table = tables(page)
    shown = dict(zip(column(per_table, "医院"), column(per_table, "结余（万元）")))
    assert shown == {h: f"{m / 1e4:,.2f}" for h, m in per.select("hospital", "margin").iter_rows()}
    assert column(per_table, "病例数") == [f"{n:,}" for n in per["cases"].to_list()]
    assert column(losing_table, "结余（万元）")[0] == wan(losing["margin"][0])


def test_report_by_department_without_weights_says_so(priced, tmp_path):
    from drgkit.payment.report import write_report

    with Glyphs() as g:
        write_report(priced.drop("rw"), tmp_path, by="dept")
    assert not g.missing, g.missing
    text = visible((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "按科室" in text and "无法计算 CMI" in text and "入组率" in text


# --- audit ----------------------------------------------------------------------------------------------------


def test_audit_page_is_chinese(priced, tmp_path):
    from drgkit.monitor.audit import audit

    result = audit(priced)
    with Glyphs() as g:
        result.write(tmp_path)
    assert not g.missing, g.missing
    page = (tmp_path / "report.md").read_text(encoding="utf-8")
    for heading in (
        "# 医保基金监管审核报告",
        "## 风险分最高的医院",
        "## 病例标记",
        "## 指标说明",
        "CC/MCC 占比（%）",
        "风险分",
        "分解住院",
    ):
        assert heading in page
    words = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", page)  # figure file names stay as they are
    for raw_name in RAW_NAMES[13:]:
        assert raw_name not in words, raw_name
    top = result.hospitals.row(0, named=True)
    line = next(line for line in page.splitlines() if line.startswith(f"| {top['hospital']} |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == f"{top['cases']:,}" and cells[3] == f"{100 * top['cc_share']:.1f}"
    assert cells[7] == "、".join(WORDS[s].zh for s in top["risk_signals"])
    assert (tmp_path / "funnel_cc_share.png").stat().st_size > 1000


def test_one_mapping_for_every_label():
    for name, w in WORDS.items():
        assert w.zh and w.en and "_" not in w.en, name
    assert fmt("budget_binding", True) == "是" and fmt("fund_payable", 123_456_789.0) == "12,345.68"
    assert fmt("cases", 1753.06) == "1,753" and fmt("grouping_rate", 0.9784) == "97.8"


def test_figure_axes_show_wan_without_an_offset():
    plt = drgkit.figures.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [2.7e8, 2.9e8])
    drgkit.figures.wan_axis(ax.yaxis)
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert ticks and all(re.fullmatch(r"[\d,]+(\.\d{1,2})?", t) for t in ticks) and "27,000" in ticks
    plt.close(fig)


def test_report_and_audit_read_the_coders_priced_workbook(tmp_path) -> None:
    """The sample export grouped and priced into the Chinese workbook: report and audit read it (Chinese headers
    and status texts, hospitals named by 医疗机构名称 only) with the same figures as from the Parquet twin."""
    runner = CliRunner()
    sample = tmp_path / "病案首页示例.xlsx"
    assert runner.invoke(app, ["sample", "-o", str(sample)]).exit_code == 0
    book, twin = tmp_path / "计价结果.xlsx", tmp_path / "计价结果.parquet"
    for out in (book, twin):
        r = runner.invoke(
            app,
            [
                "group",
                str(sample),
                "-o",
                str(out),
                "--scheme",
                "chs-drg-2.0",
                "--price",
                "chs-drg-2.0",
                "--base-rate",
                "12000",
                "-q",
            ],
        )
        assert r.exit_code == 0, r.output
    from drgkit.payment.report import indicators

    per_book, _ = indicators(str(book), "hospital")
    per_twin, _ = indicators(str(twin), "hospital")
    assert per_book.height == pl.read_excel(sample, infer_schema_length=0)["医疗机构名称"].n_unique() > 1
    assert per_book.sort("hospital")["cases"].to_list() == per_twin.sort("hospital")["cases"].to_list()
    assert per_book.sort("hospital")["margin"].to_list() == pytest.approx(per_twin.sort("hospital")["margin"].to_list())
    r = runner.invoke(app, ["report", str(book), "-o", str(tmp_path / "报告")])
    assert r.exit_code == 0 and "示例市" in r.output, r.output
    r = runner.invoke(app, ["audit", str(book), "-o", str(tmp_path / "审核"), "--no-figures"])
    assert r.exit_code == 0 and "no hospital column" not in r.output and "示例市" in r.output, r.output
