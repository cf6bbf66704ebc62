"""Settlement engine: floating rate / point value under a global budget, per-hospital settlement with sharing.

One pricing model: every case is priced by :func:`drgkit.payment.price` at the scenario's provisional rate
(case types, standards, co-payments). Given the case types, a case's payment is linear in the rate factor
``f`` (all rates of the table × f): ``payment = f·A + Cp`` with ``A = m·S0/f0`` and ``Cp = P0 − m·S0``, where
``m`` is the share of the payment that scales with the standard (1 for normal cases, ``high_a`` for excess-paid
high-ratio cases, 0 for by-item payments; read from the policy, not re-derived). Outlier thresholds are the
amounts at the provisional rate (spec §2.4 note: the comparator is the initial point value); with
``comparator = "final"`` cases are re-priced at the solved rate until the case types stop changing.

Budget (B), fund basis (spec §4.5/§4.6): Σ (payment − co-pay) = B  →  f = (B − Σ(Cp − co-pay)) / ΣA.
Fund-ratio basis (DIP, spec §3.2/§3.3): ρ·Σ payment = B  →  f = (B/ρ − ΣCp) / ΣA.
Hospitals' fund payable are rounded to the cent by largest remainder, so Σ = B to the cent when binding.
Sharing (spec §4.7): D = P − C (P fund payable, C by-item claim = Σ(cost − co-pay), or ρ·Σcost on the
fund-ratio basis); surplus kept min(D, cap·C)·s + max(0, D − cap·C)·s_above (final C + kept); overspend shared
in steps (final P + shared), the total shared optionally capped at reserve_share × B (pro rata).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..errors import DrgkitError
from ..io.results import LeftOut
from ..payment import load_policy, load_table, price, standards
from ..payment.policy import Policy, PolicyError
from ..payment.price import patient_basis_counts, patient_basis_summary
from ..payment.tables import PaymentTable, TableError
from .result import ScenarioResult
from .scenario import Config, Scenario, ScenarioError, Sharing, load
from .sharing import apportion_cents, cap_reserve, share


class SimulationError(DrgkitError, ValueError):
    """A scenario that cannot be settled (no rate, budget below by-item payments …)."""


CASE_COLUMNS = ("drg", "status", "total_cost", "los", "special_review", "insurance_type")


# ------------------------------------------------------------------------------------------------ history


def read_history(path: str | Path) -> pl.DataFrame:
    p = Path(path)
    if not p.exists():
        raise ScenarioError(f"history.path: no such file {p}")
    suf = p.suffix.lower()
    if suf == ".parquet":
        return pl.read_parquet(p)
    if suf == ".csv":
        return pl.read_csv(p, infer_schema_length=10000)
    if suf in (".arrow", ".feather", ".ipc"):
        return pl.read_ipc(p)
    if suf in (".xlsx", ".xls"):  # the grouped (and priced) workbook, under its Chinese headers
        from ..arrowutil import polars_frame
        from ..io.formats import read_file

        return polars_frame(read_file(p))
    raise ScenarioError(f"history.path: unknown file type '{suf}' (parquet, csv, arrow, xlsx)")


def history_frame(history: Any, cfg: Config) -> pl.DataFrame:
    """The columns the simulator reads, renamed to hospital / hospital_level, with checks naming the column."""
    return history_cases(history, cfg)[0]


def history_cases(history: Any, cfg: Config) -> tuple[pl.DataFrame, LeftOut]:
    """:func:`history_frame`, and the rows left out. A field the history holds under another header of the
    vocabulary (医疗机构名称, 状态, 总费用 …: the workbook of ``drgkit group`` / ``pay``) is read as the other
    stages read results; totals and blank rows are no stays: left out, and counted."""
    if history is None:
        p = cfg.history_path()
        if p is None:
            raise ScenarioError("history.path: missing (give the grouped history in the file or to run())")
        history = read_history(p)
    elif isinstance(history, (str, Path)):
        history = read_history(history)
    from ..arrowutil import as_polars
    from ..io.results import results_in_place, stays

    df = as_polars(history)
    hc, lc = cfg.history.hospital_column, cfg.history.level_column
    fields = (hc, lc, "drg", "status", *CASE_COLUMNS, "fund_payment")
    table, left_out = stays(results_in_place(df.to_arrow(), dict.fromkeys(fields)))
    if left_out or set(table.column_names) != set(df.columns):
        df = as_polars(table)
    need = {
        hc: "history.hospital_column",
        "drg": "history (grouped cases)",
        "status": "history (grouped cases)",
        "total_cost": "history",
    }
    for col, where in need.items():
        if col not in df.columns:
            raise ScenarioError(f"{where}: the history has no column '{col}' (has {', '.join(df.columns[:20])})")
    cols = [pl.col(hc).cast(pl.Utf8).alias("hospital")]
    if lc in df.columns:
        cols.append(pl.col(lc).cast(pl.Utf8).alias("hospital_level"))
    cols += [pl.col(c) for c in CASE_COLUMNS if c in df.columns]
    if "fund_payment" in df.columns:
        cols.append(pl.col("fund_payment").alias("_hist_fund"))
    cols += _benefit_columns(df, {hc, lc, *CASE_COLUMNS})
    out = df.select(cols)
    if out["hospital"].null_count():
        raise ScenarioError(f"history.hospital_column: column '{hc}' has {out['hospital'].null_count()} empty values")
    return out, left_out


def _benefit_columns(df: pl.DataFrame, taken: set[str]) -> list[pl.Expr]:
    """The columns a benefit policy settles by (person id, discharge date, age, self-pay amounts …), under
    their field names, so a scenario whose policy names ``benefits`` can split payments by person and year."""
    from ..benefits.settle import NEEDED
    from ..io.columns import field_sources

    found = field_sources(df.columns, [f for f in NEEDED if f not in taken])
    return [pl.col(src).alias(name) for name, src in found.items() if src not in taken]


def _benefit_patients(cases: pl.DataFrame, policy: Policy) -> tuple[pl.DataFrame, str | None, str | None]:
    """What each history case leaves its patient to pay under the scenario's benefit policy (by person and year,
    on the history's own stays — so copies made for volume or coding drift keep their stay's payment, and the
    person's accumulators are not inflated by them), as the column ``_benefit_pat`` (null where the stay cannot
    be settled), why stays were left at the flat share (``None``: none were) and the insurance type assumed
    for every stay when the history has none (the policy's ``default_insurance``, as pricing assumes)."""
    from ..benefits.settle import patient_payments

    assumed = None if "insurance_type" in cases.columns else policy.default_insurance
    try:
        pat, why = patient_payments(cases, policy.benefits, insurance=assumed)
    except DrgkitError as exc:  # a bad benefit policy: named with the key that gave it
        raise ScenarioError(f"policy.benefits: {exc}") from None
    return cases.with_columns(_benefit_pat=pl.Series(pat).fill_nan(None)), why, assumed


def _benefit_name(source: str) -> str:
    from ..benefits.policy import load_benefit_policy

    return load_benefit_policy(source).name


def _benefit_source(name: str, base_dir: Path) -> str:
    """A benefit policy named in a scenario file: a file relative to that file, else as given (a shipped name
    or a path from the working directory)."""
    if name and not Path(name).exists() and (base_dir / name).exists():
        return str(base_dir / name)
    return name


# ------------------------------------------------------------------------------------------ scenario table


def scenario_table(base: PaymentTable, s: Scenario) -> PaymentTable:
    df = base.df
    if s.weights:
        known = set(df["drg"].to_list())
        bad = sorted(set(s.weights) - known)
        if bad:
            raise ScenarioError(f"scenario '{s.name}'.weights.{bad[0]}: DRG not in table {base.id}")
        w = pl.col("drg").replace_strict(s.weights, default=None, return_dtype=pl.Float64)
        df = df.with_columns(rw=pl.coalesce(w, pl.col("rw")))
    if s.level_coefficients:
        levels = set(df["hospital_level"].to_list()) - {""}
        bad = sorted(set(s.level_coefficients) - levels)
        if bad:
            raise ScenarioError(
                f"scenario '{s.name}'.level_coefficients.{bad[0]}: level not in table {base.id} "
                f"(has {', '.join(sorted(levels)) or 'no levels'})"
            )
        c = pl.col("hospital_level").replace_strict(s.level_coefficients, default=None, return_dtype=pl.Float64)
        df = df.with_columns(level_coefficient=pl.coalesce(c, pl.col("level_coefficient")))
    return PaymentTable(base.info, df, base.notes)


def scenario_policy(cfg: Config, s: Scenario) -> Policy:
    try:
        p = load_policy({**cfg.policy, **s.policy})
    except PolicyError as exc:  # already checked at load time; kept for dict configs
        raise ScenarioError(f"scenario '{s.name}'.policy.{str(exc).removeprefix('policy: ')}") from None
    # standards follow the (possibly changed) weights, rates and coefficients
    return p.replace(standard_source="computed")


def _rate_map(table: PaymentTable, policy: Policy) -> dict[tuple[str, str], float]:
    st = standards(table, policy).select("hospital_level", "insurance_type", "rate").unique()
    return {(r[0], r[1]): float(r[2]) for r in st.iter_rows() if r[2] is not None and not math.isnan(r[2])}


def _scaled(policy: Policy, rates: dict, f: float) -> Policy:
    return policy.replace(base_rates={f"{lv}/{ins}": f * r for (lv, ins), r in rates.items()})


# ------------------------------------------------------------------------------------------ volumes, drift


def _adrg_split(drg: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    return drg.str.slice(0, 3), drg.str.slice(3, 1)


def apply_volumes(cases: pl.DataFrame, s: Scenario, table: PaymentTable) -> pl.DataFrame:
    """Case weights ``_w`` (expected cases next year per history case) and CC/MCC drift as relabelled copies."""
    w = pl.lit(1.0 + s.volume_growth)
    if s.hospital_volume_growth:
        known = set(cases["hospital"].unique().to_list())
        bad = sorted(set(s.hospital_volume_growth) - known)
        if bad:
            raise ScenarioError(f"scenario '{s.name}'.hospital_volume_growth.{bad[0]}: no such hospital in the history")
        w = w * (
            1.0 + pl.col("hospital").replace_strict(s.hospital_volume_growth, default=0.0, return_dtype=pl.Float64)
        )
    if s.drg_volume_growth:
        w = w * (1.0 + pl.col("drg").replace_strict(s.drg_volume_growth, default=0.0, return_dtype=pl.Float64))
    cases = cases.with_columns(_w=w.cast(pl.Float64))
    if s.cc_mcc_shift or s.hospital_cc_mcc_shift:
        cases = _drift(cases, s, table)
    return cases


def _drift(cases: pl.DataFrame, s: Scenario, table: PaymentTable) -> pl.DataFrame:
    """Move ``x`` points of each hospital × ADRG's cases from the DRG without CC (…5) to the CC DRG (…3, else
    …1): the same cases (same cost), coded one severity higher — the upcoding the spec warns about."""
    if s.hospital_cc_mcc_shift:
        bad = sorted(set(s.hospital_cc_mcc_shift) - set(cases["hospital"].unique().to_list()))
        if bad:
            raise ScenarioError(f"scenario '{s.name}'.hospital_cc_mcc_shift.{bad[0]}: no such hospital in the history")
    codes = set(table.df["drg"].to_list())
    target = {}
    for c in codes:
        if len(c) == 4 and c[3] == "5":
            for d in ("3", "1"):
                if c[:3] + d in codes:
                    target[c] = c[:3] + d
                    break
    shift = (
        pl.col("hospital").replace_strict(s.hospital_cc_mcc_shift, default=s.cc_mcc_shift, return_dtype=pl.Float64)
        if s.hospital_cc_mcc_shift
        else pl.lit(s.cc_mcc_shift)
    )
    adrg, _ = _adrg_split(pl.col("drg"))
    cases = cases.with_columns(_adrg=adrg, _shift=shift, _src=pl.col("drg").is_in(list(target)))
    share = cases.group_by("hospital", "_adrg").agg(
        (pl.col("_w") * pl.col("_src")).sum().alias("_w5"), pl.col("_w").sum().alias("_wall")
    )
    cases = cases.join(share, on=["hospital", "_adrg"], how="left")
    # fraction of each source case that moves: x / p5, at most 1
    move = (
        pl.when(pl.col("_src") & (pl.col("_w5") > 0))
        .then((pl.col("_shift") * pl.col("_wall") / pl.col("_w5")).clip(0.0, 1.0))
        .otherwise(0.0)
    )
    cases = cases.with_columns(_move=move)
    moved = cases.filter(pl.col("_move") > 0).with_columns(
        drg=pl.col("drg").replace_strict(target, default=None), _w=pl.col("_w") * pl.col("_move"), _hist=pl.lit(0.0)
    )  # next-year cases, not history
    kept = cases.with_columns(_w=pl.col("_w") * (1.0 - pl.col("_move")))
    drop = ["_adrg", "_shift", "_src", "_w5", "_wall", "_move"]
    return pl.concat([kept.drop(drop), moved.drop(drop)], how="vertical")


# ------------------------------------------------------------------------------------------------ pricing


def _multiplier(case_type: np.ndarray, policy: Policy) -> np.ndarray:
    """Share of a case's payment that scales with its standard, by case type, from the policy."""
    m = np.zeros(len(case_type))
    m[case_type == "normal"] = 1.0
    m[case_type == "high_ratio"] = {"excess": policy.high_a, "standard": 1.0, "by_item": 0.0}[policy.high_payment]
    m[case_type == "low_ratio"] = 1.0 if policy.low_payment == "standard" else 0.0
    return m


def _price(cases: pl.DataFrame, table: PaymentTable, policy: Policy, rates: dict, f: float) -> pl.DataFrame:
    split = None
    if policy.benefits and "_benefit_pat" in cases.columns:  # settled once on the history (settle() below)
        split = (cases["_benefit_pat"].cast(pl.Float64).fill_null(float("nan")).to_numpy(), None)
    try:
        return price(
            cases,
            table,
            policy=_scaled(policy, rates, f),
            benefits=policy.benefits or None,
            benefit_patient=split,
        )
    except (TableError, PolicyError) as exc:
        raise ScenarioError(f"pricing: {exc}") from None


def _pieces(priced: pl.DataFrame, policy: Policy, f: float, points: bool = False) -> pl.DataFrame:
    """Per-case A (yuan per unit of rate factor) and Cp (yuan by item). ``points``: point methods score every
    DRG/DIP-paid case in points at the provisional point value (high: base × (r − 1), low: cost / PV, spec
    §2.4) and pay all points at the settled value; only special (by-item) cases stay in yuan."""
    ct = priced["case_type"].to_numpy()
    p0 = priced["payment"].fill_null(0.0).to_numpy().astype(np.float64)
    if points:
        m = np.isin(ct, ["normal", "high_ratio", "low_ratio"]).astype(np.float64)
        s0 = p0
    else:
        m = _multiplier(ct, policy)
        s0 = np.nan_to_num(priced["standard_payment"].to_numpy().astype(np.float64))
    pat = priced["patient_payment"].fill_null(0.0).to_numpy().astype(np.float64)
    a = m * s0 / f
    cp = p0 - m * s0
    priced_mask = ct != "unpriced"
    return priced.with_columns(
        _A=pl.Series(a),
        _Cp=pl.Series(np.where(priced_mask, cp, 0.0)),
        _pat=pl.Series(pat),
        _cost=pl.col("total_cost").cast(pl.Float64).fill_null(0.0),
        _priced=pl.Series(priced_mask),
    )


def _solve(pieces: pl.DataFrame, budget: float, basis: str, rho: float) -> float:
    w = pieces["_w"].to_numpy()
    sa = float(np.dot(w, pieces["_A"].to_numpy()))
    scp = float(np.dot(w, pieces["_Cp"].to_numpy()))
    spat = float(np.dot(w, pieces["_pat"].to_numpy()))
    if sa <= 0:
        raise SimulationError("no case is paid by a standard: the rate cannot float")
    if basis == "fund":
        return (budget - (scp - spat)) / sa
    return (budget / rho - scp) / sa


# ------------------------------------------------------------------------------------------ settlement


def _hist_fund(cases: pl.DataFrame, pieces: pl.DataFrame, basis: str, rho: float, f0: float) -> float:
    if "_hist_fund" in cases.columns and cases["_hist_fund"].null_count() < cases.height:
        return float(cases["_hist_fund"].fill_null(0.0).sum())
    # no priced history: the fund spending at the provisional rate on the history's own volumes
    a, cp, pat = (pieces[c].to_numpy() for c in ("_A", "_Cp", "_pat"))
    hist = pieces["_hist"].to_numpy()
    pay = (f0 * a + cp) * hist
    return float(pay.sum() - (pat * hist).sum()) if basis == "fund" else float(rho * pay.sum())


def settle(cfg: Config, s: Scenario, cases: pl.DataFrame, base_table: PaymentTable) -> ScenarioResult:
    st = cfg.settlement
    basis = st.basis
    table = scenario_table(base_table, s)
    policy = scenario_policy(cfg, s)
    why = assumed = None
    if policy.benefits:
        policy = policy.replace(benefits=_benefit_source(policy.benefits, cfg.base_dir))
        cases, why, assumed = _benefit_patients(cases, policy)
    rates = _rate_map(table, policy)
    if not rates:
        raise ScenarioError(
            f"scenario '{s.name}': table {table.id} has no base rate / point value: set "
            f"base_rate (or point_value) in [policy]"
        )
    sc = apply_volumes(cases.with_columns(_hist=pl.lit(1.0)), s, table)
    # reference rate: the rate of the most common (level, insurance) among the cases at f = 1
    probe = _price(sc, table, policy, rates, 1.0)
    ok = probe.filter(pl.col("case_type") != "unpriced")
    if ok.height == 0:
        raise SimulationError(
            f"scenario '{s.name}': no case could be priced with table {table.id} "
            f"({probe['price_reason'].drop_nulls().head(1).to_list()})"
        )
    ref = float(ok.group_by("base_rate").len().sort("len", descending=True)["base_rate"][0])
    f0 = 1.0
    given = s.base_rate if s.base_rate is not None else s.point_value
    if given is not None:
        f0 = given / ref
    f0 *= 1.0 + s.rate_change
    priced = probe if f0 == 1.0 else _price(sc, table, policy, rates, f0)
    points = st.method in ("drg_points", "dip")
    pieces = _pieces(priced, policy, f0, points)
    cost = pieces["_cost"].to_numpy()
    pat_all = pieces["_pat"].to_numpy()
    rho = st.fund_ratio
    if math.isnan(rho):
        tc = float(np.dot(pieces["_hist"].to_numpy(), cost))
        rho = 1.0 - float(np.dot(pieces["_hist"].to_numpy(), pat_all)) / tc if tc > 0 else 1.0
    # budget
    budget = s.budget if s.budget is not None else (st.budget if s.budget_growth is None else math.nan)
    growth = s.budget_growth if s.budget_growth is not None else (st.budget_growth if s.budget is None else math.nan)
    if math.isnan(budget):
        hist = _hist_fund(cases, pieces, basis, rho, f0)
        budget = hist * (1.0 + (0.0 if math.isnan(growth) else growth))
    budget = round(budget, 2)
    binding = st.binding if s.binding is None else s.binding
    f = f0
    iterations = 1
    if binding:
        f = _solve(pieces, budget, basis, rho)
        if st.comparator == "final":
            # thresholds at the settled rate: re-price and re-solve until the rate is a fixed point
            for iterations in range(2, 200):  # noqa: B007 - the count is reported after the loop
                repriced = _price(sc, table, policy, rates, f)
                same = repriced["case_type"].equals(pieces["case_type"])
                pieces = _pieces(repriced, policy, f, points)
                f_new = _solve(pieces, budget, basis, rho)
                done = same and abs(f_new - f) <= 1e-6 * abs(f)  # price() rounds payments to cents
                f = f_new
                if done:
                    break
            else:
                raise SimulationError(f"scenario '{s.name}': comparator = final did not converge in 200 re-pricings")
        if not f > 0:
            raise SimulationError(
                f"scenario '{s.name}': budget {budget:,.2f} is below what by-item payments alone "
                f"cost the fund; no positive rate exhausts it"
            )
    hospitals = _hospitals(
        pieces, f, f0, budget if binding else None, basis, rho, cfg.sharing_for(s), budget, st.prepay_ratio
    )
    return ScenarioResult(
        name=s.name,
        method=st.method,
        budget=budget,
        binding=binding,
        factor=f,
        rate=f * ref,
        reference_rate=ref,
        hospitals=hospitals,
        cases=pieces,
        basis=basis,
        fund_ratio=rho,
        sharing=cfg.sharing_for(s),
        iterations=iterations,
        patient_basis={
            **patient_basis_summary(policy, _benefit_name(policy.benefits) if policy.benefits else "", why, assumed),
            **patient_basis_counts(pieces["patient_basis"]),
        },
    )


def _sums(pieces: pl.DataFrame) -> pl.DataFrame:
    w = pl.col("_w")
    return (
        pieces.group_by("hospital")
        .agg(
            w.sum().alias("cases"),
            (w * pl.col("_A")).sum().alias("W"),
            (w * pl.col("_Cp")).sum().alias("Cp"),
            (w * pl.col("_pat")).sum().alias("patient"),
            (w * pl.col("_cost")).sum().alias("cost"),
            (w * pl.col("_priced").not_()).sum().alias("unpriced"),
            pl.col("hospital_level").first().alias("hospital_level")
            if "hospital_level" in pieces.columns
            else pl.lit(None, pl.Utf8).alias("hospital_level"),
        )
        .sort("hospital")
    )


def _hospitals(
    pieces: pl.DataFrame,
    f: float,
    f0: float,
    target: float | None,
    basis: str,
    rho: float,
    sh: Sharing,
    budget: float,
    prepay_ratio: float,
) -> pl.DataFrame:
    h = _sums(pieces)
    W, Cp, pat, cost = (h[c].to_numpy() for c in ("W", "Cp", "patient", "cost"))
    if basis == "fund":
        exact = f * W + Cp - pat
        claim = cost - pat
        at_f0 = f0 * W + Cp - pat
    else:
        exact = rho * (f * W + Cp)
        claim = rho * cost
        at_f0 = rho * (f0 * W + Cp)
    cents = apportion_cents(exact, None if target is None else round(target * 100))
    payable = cents / 100.0
    claim_r = np.round(claim, 2)
    adjust = np.round(cap_reserve(share(payable, claim_r, sh), budget, sh), 2)
    final = np.round(payable + adjust, 2)
    prepaid = np.round(prepay_ratio * at_f0, 2)
    patient = np.round(pat, 2)
    revenue = np.round(final + patient, 2)
    return pl.DataFrame(
        {
            "hospital": h["hospital"],
            "hospital_level": h["hospital_level"],
            "cases": h["cases"],
            "weighted_units": W * f,  # Σ standards at the final rate of the cases paid by standard
            "cost": np.round(cost, 2),
            "patient_payment": patient,
            "claim": claim_r,
            "fund_payable": payable,
            "fund_payable_cents": cents,
            "sharing_adjustment": adjust,
            "fund_payment": final,
            "prepaid": prepaid,
            "clearance": np.round(final - prepaid, 2),
            "revenue": revenue,
            "margin": np.round(revenue - cost, 2),
            "unpriced_cases": h["unpriced"],
        }
    )


# ------------------------------------------------------------------------------------------------ run


def run_config(
    cfg: Config, history: Any = None, draws: int = 0, seed: int | None = None, benefits: str | Path | None = None
) -> list[ScenarioResult]:
    """Settle every scenario of ``cfg`` on the history. ``benefits`` (a benefit policy file or shipped name, the
    ``--benefits`` of ``drgkit simulate``) splits every scenario's payments into fund and patient by person and
    year, unless the scenario's own ``policy.benefits`` names another."""
    if benefits is not None:
        from dataclasses import replace

        cfg = replace(cfg, policy={**cfg.policy, "benefits": str(benefits)})
    cases, left_out = history_cases(history, cfg)
    if not cfg.history.table:
        raise ScenarioError("history.table: missing (the payment table to price with, e.g. suzhou-2023)")
    try:
        base_table = load_table(
            cfg.history.table
            if Path(cfg.history.table).suffix.lower() != ".csv" or Path(cfg.history.table).is_absolute()
            else str(cfg.base_dir / cfg.history.table)
        )
    except (TableError, FileNotFoundError) as exc:
        raise ScenarioError(f"history.table: {exc}") from None
    method = cfg.settlement.method
    if method in ("drg_points", "dip") and base_table.info.basis != "points":
        raise ScenarioError(
            f"settlement.method: {method} floats a point value but table {base_table.id} is "
            f'priced by {base_table.info.basis}; use method = "drg_rate" or a points table'
        )
    if method == "drg_rate" and base_table.info.basis == "points":
        raise ScenarioError(f"settlement.method: table {base_table.id} is a points table; use drg_points or dip")
    results = [settle(cfg, s, cases, base_table) for s in cfg.scenarios]
    for r in results:
        r.left_out = left_out
    if draws:
        from .draws import monte_carlo

        for r in results:
            r.draws = monte_carlo(r, cfg.settlement, draws, cfg.settlement.seed if seed is None else seed)
    return results


def frames(results: list[ScenarioResult], percentiles=(5.0, 50.0, 95.0)) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(hospitals, scenarios) frames of the issue's layout (+ percentile columns after draws)."""
    hs, ss = [], []
    for r in results:
        h = r.hospitals.with_columns(pl.lit(r.name).alias("scenario"))
        row = {
            "scenario": r.name,
            "method": r.method,
            "budget": r.budget,
            "budget_binding": r.binding,
            "rate_or_point_value": r.rate,
            "rate_factor": r.factor,
            "reference_rate": r.reference_rate,
            "budget_basis": r.basis,
            "fund_ratio": r.fund_ratio,
            "total_payment": float(np.round(float(h["revenue"].sum()), 2)),
            "fund_payable": float(np.round(float(h["fund_payable_cents"].sum()) / 100.0, 2)),
            "fund_payment": float(np.round(float(h["fund_payment"].sum()), 2)),
            "cases": float(h["cases"].sum()),
            "cost": float(np.round(float(h["cost"].sum()), 2)),
            "iterations": r.iterations,
        }
        if r.draws:
            qs = r.draws["percentiles"]
            for q, v in zip(qs, r.draws["rate_q"]):
                row[f"rate_p{q:g}"] = float(v)
            row["draws"] = r.draws["n"]
            extra = {}
            for q_i, q in enumerate(qs):
                extra[f"revenue_p{q:g}"] = r.draws["revenue_q"][q_i]
                extra[f"fund_payment_p{q:g}"] = r.draws["fund_q"][q_i]
                extra[f"margin_p{q:g}"] = r.draws["margin_q"][q_i]
            h = h.with_columns([pl.Series(k, np.round(v, 2)) for k, v in extra.items()])
        hs.append(h)
        ss.append(row)
    hosp = pl.concat(hs, how="diagonal_relaxed")
    first = ["scenario", "hospital", "cases", "revenue", "fund_payment", "cost", "margin"]
    hosp = hosp.select(first + [c for c in hosp.columns if c not in first])
    scen = pl.DataFrame(ss)
    return hosp, scen


def run(
    history: Any = None,
    scenarios: Any = None,
    *,
    draws: int = 0,
    seed: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulate scenarios over a history; returns ``(hospitals, scenarios)`` polars frames.

    ``history``: grouped (and optionally priced) cases — pyarrow / polars / pandas, a file path, or None to
    read ``[history] path`` of the scenario file. ``scenarios``: a TOML path, a dict of the same layout or a
    :class:`~drgkit.simulate.scenario.Config`.
    """
    cfg = load(scenarios if scenarios is not None else {})
    results = run_config(cfg, history, draws=draws, seed=seed)
    return frames(results, cfg.settlement.percentiles)
