"""The workbench page in a real headless browser (Playwright driving the system Chromium): a coder types a case and
sees the DRG and the rule path, uploads an export and downloads the grouped workbook, and text holding markup is
shown as text.  Skipped where Playwright or Chromium is missing (the CI machine has neither); see docs/serve.md.
Screenshots go to ``$DRGKIT_SCREENSHOTS`` when set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openpyxl
import pytest

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("DRGKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

from drgkit.serve import ServeSettings  # noqa: E402
from test_serve_live import free_port, running  # noqa: E402


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    shots = Path(os.environ.get("DRGKIT_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    settings = ServeSettings(port=free_port(), schemes=("chs-drg-1.1", "suzhou-2023"))
    with running(settings) as (base, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        pg.dialogs = []  # type: ignore[attr-defined]
        pg.errors = []  # type: ignore[attr-defined]
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
        pg.goto(base + "/")
        pg.wait_for_selector("#scheme option", state="attached")
        pg.shots = shots  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_type_a_case_see_drg_and_path(page):
    code = page.locator("#dx-list input.code").first
    code.fill("I21.0")
    page.wait_for_selector("#dx-list .ac-list li")
    assert "灰码" in page.locator("#dx-list .ac-list").inner_text()  # grey flag in the suggestions
    page.screenshot(path=str(page.shots / "serve-autocomplete.png"))
    page.locator("#dx-list .ac-list li", has_text="I21.000x005").click()
    page.click("#dx-add")
    page.locator("#dx-list input.code").nth(1).fill("E11.900")
    page.locator("#px-list input.code").first.fill("36.0601")
    page.select_option("select[name=gender]", "1")
    page.fill("input[name=age]", "65")
    page.click("#group-btn")
    page.locator("#r-drg", has_text="FM19").wait_for()
    assert page.text_content("#r-drg-name") == "经皮冠状动脉支架植入"
    page.locator("#r-path li").first.wait_for()
    path = page.locator("#r-path li").all_text_contents()
    assert any("FM1" in step for step in path) and all(step.startswith(("✓", "✗")) for step in path)
    assert "FM19" in page.text_content("#r-sentence")
    page.screenshot(path=str(page.shots / "serve-case.png"), full_page=True)


def test_reorder_principal_and_whatif(page):
    page.click("#clear")
    page.select_option("#scheme", "suzhou-2023")
    page.select_option("#table", "suzhou-2023")
    page.click("#example")  # J18.900 | I50.900 | E11.900, 女 75
    page.locator("#dx-list .code-row").nth(1).locator("button[title='设为第一（主要）']").click()
    assert page.locator("#dx-list input.code").first.input_value() == "I50.900"
    page.click("#group-btn")
    page.locator("#r-drg", has_text="FR").wait_for()
    assert page.text_content("#r-payment").endswith("元")
    page.locator("#r-alts tr").first.wait_for()
    assert page.locator("#r-alts tr").count() >= 1
    page.screenshot(path=str(page.shots / "serve-whatif.png"), full_page=True)


def test_markup_is_shown_as_text(page, tmp_path):
    page.click("#clear")
    page.locator("#dx-list input.code").first.fill("<img src=x onerror=alert(1)>")
    page.select_option("select[name=gender]", "1")
    page.fill("input[name=age]", "50")
    page.click("#group-btn")
    page.locator("#r-status", has_text="未入组").wait_for()
    assert "<imgsrc=xonerror=alert" in page.text_content("#r-codes")
    export = tmp_path / "xss.csv"
    export.write_text(
        "病案号,性别,年龄,主要诊断编码\n<script>alert(2)</script>,男,65,<b>I21</b>\nZ2,女,70,J18.900\n",
        encoding="utf-8",
    )
    page.click("#tab-batch")
    page.set_input_files("#file", str(export))
    page.click("#batch-go")
    page.locator("#s-title", has_text="共 2 份").wait_for(timeout=60_000)
    assert "<script>alert(2)</script>" in page.locator("#s-problems").inner_text()
    assert page.locator("#s-problems script").count() == 0
    assert page.dialogs == [] and page.errors == []
    page.click("#tab-case")


def test_upload_export_download_workbook(page, tmp_path):
    from drgkit.demo.export import coder_export
    from drgkit.io import write_table

    export = tmp_path / "病案首页.xlsx"
    write_table(coder_export(200), export)
    page.click("#tab-batch")
    page.set_input_files("#file", str(export))
    page.click("#batch-go")
    page.locator("#s-title", has_text="共 200 份").wait_for(timeout=60_000)
    assert page.locator("#s-statuses tr").count() == 4
    page.screenshot(path=str(page.shots / "serve-batch.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "病案首页-分组结果.xlsx"
    book = openpyxl.load_workbook(saved, read_only=True)
    assert {"汇总", "问题病例"} <= set(book.sheetnames)
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == 201
