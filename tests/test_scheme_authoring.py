"""A scheme author edits a table and sees the new rule at once: the compiled cache is keyed by the content of
every file the scheme is compiled from, not by the manifest alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from drgkit.paths import grouper_dir


def _explain(folder: Path, cache: Path) -> dict:
    env = {**os.environ, "DRGKIT_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "drgkit.cli",
            "explain",
            "--dx",
            "J18.900|I50.900",
            "--age",
            "70",
            "--sex",
            "2",
            "--scheme",
            str(folder),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _copy(tmp_path: Path, sealed: bool) -> Path:
    folder = tmp_path / "my-scheme"
    shutil.copytree(grouper_dir() / "chs-drg-1.1", folder)
    manifest = folder / "scheme.toml"
    text = manifest.read_text(encoding="utf-8").replace('id = "chs-drg-1.1"', 'id = "my-scheme"')
    if not sealed:  # a scheme being written has no table hashes yet
        text = re.sub(r"^sha256 = .*\n", "", text, flags=re.M)
    manifest.write_text(text, encoding="utf-8")
    return folder


def _never_mcc(folder: Path) -> None:
    """ES31 (respiratory infection with MCC) can no longer be reached."""
    drg = folder / "drg.csv"
    drg.write_text(
        drg.read_text(encoding="utf-8").replace(
            "ES31,呼吸系统感染/炎症，伴严重并发症或合并症,ES3,ES3,1,mcc,",
            "ES31,呼吸系统感染/炎症，伴严重并发症或合并症,ES3,ES3,1,never,",
        ),
        encoding="utf-8",
    )


def test_an_edited_table_is_compiled_again_not_served_from_the_cache(tmp_path: Path) -> None:
    folder, cache = _copy(tmp_path, sealed=False), tmp_path / "cache"
    before = _explain(folder, cache)
    assert before["drg"] == "ES31"
    _never_mcc(folder)
    after = _explain(folder, cache)
    assert after["drg"] == "ES33" and after["scheme_checksum"] != before["scheme_checksum"]
    assert len(list(cache.glob("my-scheme-*.pkl"))) == 1  # the stale program is gone


def test_an_edited_table_of_a_sealed_scheme_is_refused(tmp_path: Path) -> None:
    folder, cache = _copy(tmp_path, sealed=True), tmp_path / "cache"
    assert _explain(folder, cache)["drg"] == "ES31"
    _never_mcc(folder)
    env = {**os.environ, "DRGKIT_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-m", "drgkit.cli", "explain", "--dx", "J18.900", "--scheme", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "table drg has checksum" in proc.stderr and "Traceback" not in proc.stderr


def test_check_finds_what_an_author_breaks_and_seal_reproduces_the_shipped_hashes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from drgkit.cli import app
    from drgkit.schemes.authoring import check, seal

    shipped = grouper_dir() / "chs-drg-1.1"
    assert not [p for p in check(shipped) if p.is_error]
    sealed = _copy(tmp_path, sealed=True)
    before = (sealed / "scheme.toml").read_text(encoding="utf-8")
    seal(sealed)
    assert (sealed / "scheme.toml").read_text(encoding="utf-8") == before  # the same hashes, the same file

    folder = _copy(tmp_path / "b", sealed=False)
    adrg = folder / "adrg.csv"
    adrg.write_text(
        adrg.read_text(encoding="utf-8").replace(
            "PB1,PB1,新生儿（出生年龄＜29天）心血管手术,CHS_DRG_11,MDCP,1,main_proc_and_newborn,"
            "main_px_in(px) & newborn(28),,,28,",
            "PB1,PB1,新生儿（出生年龄＜29天）心血管手术,CHS_DRG_11,MDCP,1,main_proc_and_newborn,"
            "main_px_in(px) & newborn(14),,,28,",
        ),
        encoding="utf-8",
    )
    drg = folder / "drg.csv"
    drg.write_text(drg.read_text(encoding="utf-8").replace("\nES35,", "\nXS35,"), encoding="utf-8")
    found = [str(p) for p in check(folder) if p.is_error]
    assert any("age_day_max '28' but entry_expr 'main_px_in(px) & newborn(14)'" in p for p in found), found
    assert any("DRG XS35 does not start with its ADRG ES3" in p for p in found), found
    r = CliRunner().invoke(app, ["schemes", "check", str(folder)])
    assert r.exit_code == 2 and "problem(s) to fix" in r.output

    (folder / "drg.csv").write_text(drg.read_text(encoding="utf-8").replace("\nXS35,", "\nES35,"), encoding="utf-8")
    adrg.write_text(adrg.read_text(encoding="utf-8").replace("newborn(14)", "newborn(28)"), encoding="utf-8")
    r = CliRunner().invoke(app, ["schemes", "seal", str(folder)])
    assert r.exit_code == 0 and "sealed 10 tables" in r.output
    assert (folder / "scheme.toml").read_text(encoding="utf-8").count("sha256 = ") == 10
    assert CliRunner().invoke(app, ["schemes", "check", str(folder)]).exit_code == 0


def test_the_manifest_is_validated_against_its_declared_fields(tmp_path: Path) -> None:
    """An unknown key, a wrong type or a value outside its choices names the field — in `schemes check` and
    whenever the scheme is used — instead of falling back to a default somewhere in the code."""
    from drgkit.schemes.authoring import check
    from drgkit.schemes.manifest import FIELDS, problems
    from drgkit.schemes.tables import SchemeError, scheme_info

    folder = _copy(tmp_path, sealed=False)
    manifest = folder / "scheme.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace('validity_check = "gender_age_newborn_dx"', 'validity_check = "gender_only"').replace(
            "retry_0000_with_each_other_proc = false", 'retry_0000_with_each_other_proc = "no"\nretry = true'
        ),
        encoding="utf-8",
    )
    found = [p.message for p in check(folder)]
    assert any("'validity_check' = 'gender_only' is not one of" in m for m in found), found
    assert any("'retry_0000_with_each_other_proc' must be a bool" in m for m in found), found
    assert any("unknown key 'retry'" in m for m in found), found
    try:
        scheme_info(folder)
    except SchemeError as exc:
        assert "validity_check" in str(exc) and "retry" in str(exc)
    else:
        raise AssertionError("an invalid manifest was accepted")
    # every shipped manifest is valid and sets every switch the grouper reads explicitly
    for path in sorted(grouper_dir().glob("*/scheme.toml")):
        import tomllib

        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert problems(data) == [], path
        assert (
            {"validity_check", "retry_0000_with_each_other_proc", "fail_drg_codes", "icd"}
            <= data.keys()
            <= FIELDS.keys()
        )
