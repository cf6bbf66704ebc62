"""Synthetic years with planted behaviours, on top of :func:`drgkit.demo.synth.generate`, to demonstrate
and test the monitors.

``planted_year(n, ...)`` returns the abstracts of :func:`generate` plus a ``doctor`` column and three kinds of
planted behaviour, labelled in a ``planted`` column:

* ``split`` — ``split_pairs`` stays are split (分解住院): a second stay of the same patient at the same hospital
  with the same codes, admitted 0 to ``split_max_gap`` days after the first discharge; both stays are labelled
  ``split`` and share a ``planted_pair`` id;
* ``far`` — ``far_pairs`` controls: the same kind of repeat stay, admitted 30-120 days later (must not be
  flagged);
* ``upcode`` — at ``upcode_hospital`` a share ``upcode_rate`` of the stays without a CC/MCC secondary
  diagnosis gets a real MCC/CC code appended (高套: up-coding drift), rising over the year.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..demo.synth import generate
from ..schemes import DEFAULT_SCHEME

#: MCC / CC codes of chs-drg-1.1 (cc.csv) appended by the up-coding hospital
UPCODES = ("J96.000", "I50.900", "N17.900", "E87.100", "J96.900", "E87.600", "I48.x00", "D62.x00")


def planted_year(
    n: int,
    *,
    scheme: str = DEFAULT_SCHEME,
    seed: int = 0,
    hospitals: int = 20,
    split_pairs: int = 500,
    far_pairs: int = 500,
    split_max_gap: int = 14,
    upcode_hospital: str | None = "auto",
    upcode_rate: float = 0.3,
) -> pa.Table:
    """A synthetic year (see the module docstring); ``upcode_hospital='auto'`` picks a level-2 hospital."""
    t = generate(n, scheme=scheme, seed=seed, dirty=0.0, hospitals=hospitals)
    rng = np.random.default_rng([seed, 0x91A7])
    m = t.num_rows
    hosp = t.column("hospital").to_numpy(zero_copy_only=False).astype(str)
    dept = t.column("dept").to_numpy(zero_copy_only=False).astype(str)
    doctor = np.char.add(np.char.add(hosp, "-"), np.char.add(dept, np.char.mod("-%02d", rng.integers(1, 7, m))))
    t = t.append_column("doctor", pa.array(doctor))
    age = pc.cast(t.column("age"), pa.int32()).to_numpy(zero_copy_only=False)
    planted = np.full(m, "", dtype=object)
    pair = np.full(m, -1, np.int64)
    dx = t.column("dx").to_pylist()

    if upcode_hospital == "auto":
        levels = t.column("hospital_level").to_numpy(zero_copy_only=False)
        cand = sorted(set(hosp[levels == 2])) or sorted(set(hosp))
        upcode_hospital = cand[0]
    if upcode_hospital:
        sel = np.flatnonzero(hosp == upcode_hospital)
        day = (
            t.column("discharge_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
            - np.datetime64("2023-01-01")
        ).astype(np.int64)
        # drift: the share grows from half the rate to 1.5 times the rate over the year
        p = upcode_rate * (0.5 + np.clip(day[sel], 0, 364) / 364)
        hit = sel[rng.random(len(sel)) < p]
        hit = hit[age[hit] >= 18]
        codes = rng.choice(UPCODES, len(hit))
        for i, c in zip(hit, codes):
            if c not in dx[i]:
                dx[i] = f"{dx[i]}|{c}" if dx[i] else dx[i]
                planted[i] = "upcode"

    # repeat stays: copy an adult stay, same patient / hospital / codes, admitted after the discharge
    free = np.flatnonzero((age >= 18) & (planted == ""))
    chosen = rng.choice(free, min(split_pairs + far_pairs, len(free)), replace=False)
    src_split, src_far = chosen[:split_pairs], chosen[split_pairs:]
    gaps = np.concatenate([rng.integers(0, split_max_gap + 1, len(src_split)), rng.integers(30, 121, len(src_far))])
    src = np.concatenate([src_split, src_far])
    kind = np.array(["split"] * len(src_split) + ["far"] * len(src_far), dtype=object)
    planted[src] = kind
    pair[src] = np.arange(len(src))
    copy = t.take(pa.array(src))
    dis = copy.column("discharge_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    los_new = rng.integers(1, 8, len(src))
    adm_new = dis + gaps.astype("timedelta64[D]")
    cols = {}
    for name in copy.column_names:
        if name == "case_id":
            cols[name] = pa.array([f"R{i:08d}" for i in range(1, len(src) + 1)])
        elif name == "admission_date":
            cols[name] = pa.array(adm_new, pa.date32())
        elif name == "discharge_date":
            cols[name] = pa.array(adm_new + los_new.astype("timedelta64[D]"), pa.date32())
        elif name == "los":
            cols[name] = pa.array(los_new.astype(str)).cast(copy.schema.field("los").type)
        elif name == "dx":
            cols[name] = pa.array([dx[i] for i in src])
        else:
            cols[name] = copy.column(name)
    base = t.set_column(t.column_names.index("dx"), "dx", pa.array(dx))
    out = pa.concat_tables([base, pa.table(cols).cast(base.schema)])
    out = out.append_column("planted", pa.array(list(planted) + list(kind), pa.string()))
    out = out.append_column("planted_pair", pa.array(np.concatenate([pair, np.arange(len(src))])))
    return out
