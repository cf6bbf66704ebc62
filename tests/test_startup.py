"""Start-up of the command line (issue 20: ``drgkit group`` on a small file and ``drgkit explain`` in ≤ 0.5 s):
what their processes must not load — numba (a small batch is walked: tests/test_small_batch.py) and pandas
(pyarrow's own imports of it are refused: :mod:`drgkit.cli.startup`) — and that pandas still works for code
that asks for it. Timing itself: benchmarks/bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
DATA = Path(__file__).resolve().parent / "data"


def _python(code: str, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *argv],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


LOADED = """
import sys
from drgkit.cli import app
try:
    app()
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in ("pandas", "numba", "polars") if m in sys.modules))
"""


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("small")
    lines = (DATA / "opendrg-input-30.csv").read_text(encoding="utf-8").splitlines()[:4]
    csv = folder / "three.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parquet = folder / "three.parquet"
    pq.write_table(pacsv.read_csv(csv), parquet)
    return csv, parquet


def test_group_on_a_small_file_loads_neither_numba_nor_pandas(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    for source in small_files:
        out = tmp_path / f"{source.suffix[1:]}.parquet"
        assert _python(LOADED, "group", str(source), "-o", str(out)) == "[]"
        assert out.is_file()


def test_explain_loads_neither_numba_nor_pandas() -> None:
    assert _python(LOADED, "explain", "--dx", "I21.000|E11.900", "--px", "36.0601", "--age", "65", "--sex", "1") == "[]"


def test_pandas_asked_for_after_pyarrow_was_refused_works_whole() -> None:
    code = """
    import importlib, sys
    import pyarrow as pa, pyarrow.compute as pc
    from drgkit.cli.startup import keep_pandas_out

    keep_pandas_out()
    pa.array([1, 2]); pa.scalar(3); pc.equal(pa.array([1]), 1); pa.array([1]).to_numpy(zero_copy_only=False)
    assert "pandas" not in sys.modules
    if sys.argv[1] == "importlib":
        pd = importlib.import_module("pandas")
    else:
        import pandas as pd
    kinds = (
        str(pa.array(pd.Series(pd.Categorical(["a", "b", "a"]))).type),  # pyarrow sees pandas again
        pa.array(pd.Series([1.0, float("nan")])).null_count,
        pa.table({"a": [1]}).to_pandas().shape,
    )
    print(kinds)
    """
    want = "('dictionary<values=large_string, indices=int8, ordered=0>', 1, (1, 1))"
    assert _python(code, "statement") == want
    assert _python(code, "importlib") == want


def test_tests_and_programs_keep_their_pandas(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    """CliRunner (and any program building the command from ``app``) does not go through the process entry."""
    from typer.testing import CliRunner

    from drgkit.cli import app
    from drgkit.cli.startup import _PandasWhenAsked

    result = CliRunner().invoke(app, ["group", str(small_files[0]), "-o", str(tmp_path / "o.parquet"), "-q"])
    assert result.exit_code == 0, result.output
    assert not any(isinstance(f, _PandasWhenAsked) for f in sys.meta_path)


@pytest.mark.parametrize("scheme", ["chs-drg-1.1", "chs-drg-2.0", "zhejiang-2022", "beijing-2022"])
def test_cached_spec_reference_is_the_built_one(scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`drgkit explain` loads the spec reference from the cache: it groups and traces exactly as one built
    from the tables (every outcome field and every step of the trace, on random cases)."""
    from drgkit.grouping import spec_cache
    from drgkit.grouping.batch import encode
    from drgkit.grouping.spec_reference import SpecReference, case_from_encoded
    from drgkit.io import prepare
    from drgkit.schemes.compile import load_compiled
    from test_differential import random_cases

    monkeypatch.setenv("DRGKIT_CACHE_DIR", str(tmp_path))
    built = spec_cache.load_or_build(scheme)  # a miss: built from the tables, then written
    [written] = tmp_path.glob(f"spec-{scheme}-*.pkl")
    cached = spec_cache.load_or_build(scheme)
    assert cached is not built and isinstance(cached, SpecReference)
    fresh = SpecReference(scheme)
    compiled = load_compiled(scheme)
    table = random_cases(scheme, 400, seed=5)
    enc = encode(prepare(table), compiled)
    dx, px, num = enc.dx_flat.to_pylist(), enc.px_flat.to_pylist(), enc.num.tolist()
    dept = prepare(table).dept.to_pylist()
    for i in range(enc.n):
        case = case_from_encoded(
            dx[enc.dx_off[i] : enc.dx_off[i + 1]], px[enc.px_off[i] : enc.px_off[i + 1]], num[i], dept[i]
        )
        assert cached.group(case) == fresh.group(case), i
    # a damaged file is rebuilt, not trusted
    written.write_bytes(written.read_bytes()[:1000])
    again = spec_cache.load_or_build(scheme)
    assert again.group(case) == fresh.group(case)


def test_spec_cache_key_follows_the_reader_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drgkit.grouping import spec_cache

    monkeypatch.setenv("DRGKIT_CACHE_DIR", str(tmp_path))
    spec_cache.load_or_build("chs-drg-1.1")
    monkeypatch.setattr(spec_cache, "_reader_digest", lambda: "0" * 12)  # the reader's code changed
    spec_cache.load_or_build("chs-drg-1.1")
    names = [p.name for p in tmp_path.glob("spec-*.pkl")]
    assert len(names) == 1 and names[0].endswith("-000000000000.pkl")  # the stale one is gone


def test_collection_is_paused_only_while_a_lean_command_starts(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    """The lean commands start with garbage collection off (drgkit.cli.startup); it is on again for group's
    batches and after the command, and importing the command line leaves it as it was."""
    code = """
    import gc, sys
    import drgkit.cli.group as cli_group
    from drgkit.cli import app

    assert gc.isenabled()  # the import turned it off only while importing
    seen = []
    real = cli_group.write_stream
    cli_group.write_stream = lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k)
    try:
        app()
    except SystemExit as exc:
        assert not exc.code, exc.code
    print(seen, gc.isenabled())
    """
    out = tmp_path / "o.parquet"
    assert _python(code, "group", str(small_files[0]), "-o", str(out), "-q") == "[True] True"
    gc_state = "import gc; from drgkit.cli import app; print(gc.isenabled())"
    assert _python(gc_state) == "True"


def test_importing_the_compiler_and_the_kernel_program_hashes_no_file() -> None:
    """The cache keys' code digests are computed on first use, not at import (review: import-time work)."""
    code = """
    import json, pathlib
    read = []
    real = pathlib.Path.read_bytes
    pathlib.Path.read_bytes = lambda self: read.append(self.name) or real(self)
    from drgkit.grouping import kernel_program as K
    from drgkit.schemes import compile as C
    def hashed():
        return sorted({n for n in read if n.endswith(".py") or n.startswith("grey_")})
    at_import = hashed()
    sizes = [C._compiler_key.cache_info().currsize, K._digest.cache_info().currsize]
    keys = [C._compiler_key(), K._digest(), C._compiler_digest()]
    print(json.dumps([at_import, sizes, hashed(), keys]))
    """
    at_import, sizes, first_use, (key, digest, fresh) = json.loads(_python(code))
    assert at_import == [] and sizes == [0, 0]
    assert {"compile.py", "kernel_program.py", "program.py", "grey_dx_chs_v2.csv"} <= set(first_use)
    assert key == fresh and len(key) == len(digest) == 12


PURGE = """
import os, sys
from drgkit.cli import app
try:
    app()
except SystemExit:
    pass
print(os.environ.get("MIMALLOC_PURGE_DELAY"), "pyarrow" in sys.modules)
"""


def test_batch_commands_keep_freed_memory_and_serve_hands_it_back(
    small_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A batch command's process tells Arrow's allocator, before pyarrow loads, to keep freed memory for the next
    batch (page faults on 5M rows: 144k → 46k); `serve` runs until stopped and leaves the default alone."""
    csv, _ = small_files
    out = tmp_path / "o.parquet"
    assert _python(PURGE, "group", str(csv), "-o", str(out), "-q") == "-1 True"
    assert _python(PURGE, "schemes", "list").split()[0] == "-1"
    assert _python(PURGE, "serve", "--help").split()[0] == "None"


def test_a_purge_delay_the_user_set_is_kept(small_files: tuple[Path, Path], tmp_path: Path) -> None:
    csv, _ = small_files
    done = subprocess.run(
        [sys.executable, "-c", PURGE, "group", str(csv), "-o", str(tmp_path / "o.parquet"), "-q"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "MIMALLOC_PURGE_DELAY": "25"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "25"
