"""Headers → fields: map the column names of real exports to drgkit's canonical columns.

The vocabulary is data (``io/vocab/fields.csv``, ``field_labels.csv``, ``header_variants.csv``); this module
only reads it.  Inputs come from the 医保结算清单 (settlement list) and the 病案首页 (front sheet), with
Chinese labels, or from the national interface (国家医保信息平台接口) with ASCII field codes (``setl_id``).

A header is compared by its *key*: Unicode NFKC (full-width → ASCII), whitespace removed, case folded,
then the wording variants rewritten (代码 → 编码, 手术及操作 → 手术操作, 次要 → 其他 …).  Diagnosis and
procedure codes often arrive spread over numbered columns (其他诊断编码1…N, 手术及操作编码(1)…); those are
*code parts*, assembled in order into one list column.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

#: Canonical columns, in the order drgkit writes them.  ``dx``/``px`` are list<string>, principal first.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "case_id",
    "gender",
    "age",
    "age_days",
    "birth_weight",
    "dept",
    "los",
    "leaving_type",
    "icu_hours",
    "dx",
    "px",
    "total_cost",
)

#: Code-part roles, in assembly order within ``dx`` / ``px``.
PART_ROLES: dict[str, tuple[str, ...]] = {
    "dx": ("dx_main", "dx_all", "dx_other"),
    "px": ("px_main", "px_all", "px_other"),
}
_ROLE_KIND = {role: kind for kind, roles in PART_ROLES.items() for role in roles}
_ROLE_RANK = {role: rank for roles in PART_ROLES.values() for rank, role in enumerate(roles)}
_LONG_FIELDS = ("long_dx_code", "long_dx_flag", "long_px_code", "long_px_flag")


@cache
def _vocab_rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a vocabulary file, read once (``labels_of`` asks for field_labels.csv once per field)."""
    text = resources.files("drgkit.io").joinpath("vocab", name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


@dataclass(frozen=True)
class FieldInfo:
    """One field of the vocabulary (``io/vocab/fields.csv``)."""

    name: str
    type: str
    zh: str
    en: str


@lru_cache(maxsize=1)
def fields() -> dict[str, FieldInfo]:
    """Every field drgkit reads or carries, by name."""
    return {r["field"]: FieldInfo(r["field"], r["type"], r["zh"], r["en"]) for r in _vocab_rows("fields.csv")}


@lru_cache(maxsize=1)
def _variants() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(r["pattern"]), r["replacement"]) for r in _vocab_rows("header_variants.csv"))


_SPACE = re.compile(r"\s+")


def normalize_header(header: str) -> str:
    """Comparison key of a header: NFKC (full-width → ASCII), whitespace removed, case folded, and the
    wording variants of ``header_variants.csv`` rewritten."""
    key = _SPACE.sub("", unicodedata.normalize("NFKC", str(header))).casefold()
    for pattern, replacement in _variants():
        key = pattern.sub(replacement, key)
    return key


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int | None:
    """一 … 九十九 as an int (the numbering some exports use: 其他诊断编码一)."""
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


# trailing number: 1, _1, -1, (1), [1], 一; or a number before 编码: 其他诊断1编码
_TRAILING_NUMBER = re.compile(r"^(?P<stem>.*?\D)[_\-]?[\(\[]?(?P<num>\d{1,3}|[一二三四五六七八九十]{1,3})[\)\]]?$")
_MIDDLE_NUMBER = re.compile(r"^(?P<stem>.*?\D)[_\-]?[\(\[]?(?P<num>\d{1,3})[\)\]]?(?P<tail>编码)$")


def _split_number(key: str) -> tuple[str, int] | None:
    """(stem, number) of a numbered header key, else ``None``."""
    for pattern in (_TRAILING_NUMBER, _MIDDLE_NUMBER):
        match = pattern.match(key)
        if match:
            raw = match.group("num")
            number = int(raw) if raw.isdigit() else _cn_number(raw)
            if number is None:
                continue
            stem = match.group("stem").rstrip("_-") + (match.groupdict().get("tail") or "")
            return stem, number
    return None


@dataclass(frozen=True)
class _Vocabulary:
    exact: dict[str, tuple[str, int]]  # key → (field, priority)
    numbered: dict[str, str]  # stem key → part role


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    exact: dict[str, tuple[str, int]] = {}
    numbered: dict[str, str] = {}
    for rank, row in enumerate(_vocab_rows("field_labels.csv")):
        name, label = row["field"], row["label"]
        if label.endswith("N") and name in _ROLE_KIND:
            numbered.setdefault(normalize_header(label[:-1]).rstrip("_-"), name)
        else:
            exact.setdefault(normalize_header(label), (name, rank))
    return _Vocabulary(exact, numbered)


def labels_of(name: str) -> tuple[str, ...]:
    """The header labels of a field, highest priority first (as written in ``field_labels.csv``)."""
    return tuple(r["label"] for r in _vocab_rows("field_labels.csv") if r["field"] == name)


#: Field → labels, highest priority first (read from the vocabulary; kept for callers of the old table).
ALIASES: dict[str, tuple[str, ...]] = {
    name: labels_of(name) for name in fields() if name not in _ROLE_KIND and name not in _LONG_FIELDS
}
#: Column roles in the long diagnosis / procedure tables of the three-table layout.
LONG_CODE_ALIASES: dict[str, tuple[str, ...]] = {"dx": labels_of("long_dx_code"), "px": labels_of("long_px_code")}
LONG_FLAG_ALIASES: dict[str, tuple[str, ...]] = {"dx": labels_of("long_dx_flag"), "px": labels_of("long_px_flag")}


@dataclass(frozen=True)
class CodePart:
    """A source column holding some of a row's codes: its role, its number (``None`` if unnumbered)."""

    header: str
    role: str
    number: int | None
    position: int

    @property
    def kind(self) -> str:
        return _ROLE_KIND[self.role]

    def order(self) -> tuple[int, float, int]:
        return (_ROLE_RANK[self.role], float("inf") if self.number is None else self.number, self.position)


def classify_header(header: str) -> tuple[str, int | None] | None:
    """(field or part role, number) a header stands for by the vocabulary, or ``None`` if unknown."""
    key = normalize_header(header)
    vocab = _vocabulary()
    hit = vocab.exact.get(key)
    if hit is not None:
        return hit[0], None
    split = _split_number(key)
    if split is not None and split[0] in vocab.numbered:
        return vocab.numbered[split[0]], split[1]
    return None


def is_known_header(header: str) -> bool:
    """Whether the vocabulary knows this header (used to find the header row of a sheet)."""
    return classify_header(header) is not None


@dataclass
class HeaderPlan:
    """How the headers of one file become canonical columns.

    ``rename`` maps every kept source header to its output name (canonical or unchanged).
    ``dx_parts`` / ``px_parts`` list the source headers whose codes are concatenated, in order, into the
    ``dx`` / ``px`` list column; they stay in the table under their own names too (so the output can keep
    them as the user gave them).  ``headers`` is the file's header row, in order.
    """

    rename: dict[str, str] = field(default_factory=dict)
    dx_parts: list[str] = field(default_factory=list)
    px_parts: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    parts: dict[str, CodePart] = field(default_factory=dict)
    user_mapped: set[str] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)  # result columns of an earlier drgkit run
    long_tables: dict[str, str] = field(default_factory=dict)  # dx / px → the long table they came from

    def source_of(self, canonical: str) -> str | None:
        """The source header that became ``canonical``, if any."""
        for source, target in self.rename.items():
            if target == canonical:
                return source
        return None

    def has_dx(self) -> bool:
        return bool(self.dx_parts) or "dx" in self.rename.values()

    def has_px(self) -> bool:
        return bool(self.px_parts) or "px" in self.rename.values()

    def principal_part(self, kind: str) -> bool:
        """Whether the first code part of ``kind`` holds the principal diagnosis / main procedure."""
        headers = self.dx_parts if kind == "dx" else self.px_parts
        if not headers:
            return False
        part = self.parts[headers[0]]
        # a numbered-from-the-principal family holds it only in its column 1: with 出院诊断编码1 missing,
        # 出院诊断编码2 would silently become the principal
        return part.role.endswith("_main") or (part.role.endswith("_all") and part.number in (None, 0, 1))

    def is_read(self, header: str) -> bool:
        """Whether a source column is read as a field or as codes (else it is carried through unread)."""
        return header in self.parts or header in self.user_mapped or self.rename.get(header) in fields()

    def carried(self) -> list[str]:
        """Source headers passed through unchanged (not read as a field)."""
        return [h for h in self.rename if not self.is_read(h)]

    def describe(self) -> list[str]:
        """One line per field read, then the columns carried through: what ``drgkit group`` prints."""
        lines = []
        for source, target in self.rename.items():
            if source in self.parts or not self.is_read(source):
                continue
            lines.append(f"{source} → {target}" if source != target else target)
        for kind in ("dx", "px"):
            parts = self.dx_parts if kind == "dx" else self.px_parts
            if parts:
                shown = parts if len(parts) <= 3 else [parts[0], parts[1], "…", parts[-1]]
                lines.append(
                    f"{' + '.join(shown)} → {kind} ({len(parts)} column{'s' if len(parts) > 1 else ''},"
                    f" {'principal' if kind == 'dx' else 'main'} first)"
                )
        return lines


def plan_headers(
    headers: Iterable[str], mapping: Mapping[str, str] | None = None, *, drop_results: bool = True
) -> HeaderPlan:
    """Decide the canonical name of every header.

    ``mapping`` ({source header: field or part role}) wins over the vocabulary; its keys must be headers
    of the file (compared exactly, then by key), otherwise :class:`KeyError` names the first missing one.
    Mapping targets may be canonical fields, other known fields, or code-part roles (``dx_main``,
    ``dx_other``, ``dx3``, ``其他诊断编码2`` …).
    """
    headers = list(headers)
    by_key: dict[str, str] = {}
    for name in headers:
        by_key.setdefault(normalize_header(name), name)

    # (priority, position) of the header currently holding each target name; lower wins.
    claims: dict[str, tuple[tuple[int, int], str]] = {}
    position = {h: i for i, h in reversed(list(enumerate(headers)))}

    def claim(target: str, header: str, priority: int) -> None:
        rank = (priority, position[header])
        held = claims.get(target)
        if held is None or rank < held[0]:
            claims[target] = (rank, header)

    plan = HeaderPlan(headers=headers)
    parts: list[CodePart] = []
    for source, target in (mapping or {}).items():
        header: str | None = source if source in position else by_key.get(normalize_header(source))
        if header is None:
            raise KeyError(source)
        plan.user_mapped.add(header)
        known = classify_header(target) if target not in fields() else (target, None)
        if known is not None and known[0] in _ROLE_KIND:
            parts.append(CodePart(header, known[0], known[1], -1))
        else:
            claim(known[0] if known is not None and known[0] in CANONICAL_COLUMNS else target, header, -1)

    vocab = _vocabulary()
    for index, header in enumerate(headers):
        if header in plan.user_mapped:
            continue
        key = normalize_header(header)
        hit = vocab.exact.get(key)
        if hit is not None and hit[0] in _ROLE_KIND:
            parts.append(CodePart(header, hit[0], None, index))
        elif hit is not None and hit[0] not in _LONG_FIELDS:
            claim(hit[0], header, hit[1])
        elif hit is None:
            split = _split_number(key)
            if split is not None and split[0] in vocab.numbered:
                parts.append(CodePart(header, vocab.numbered[split[0]], split[1], index))

    winners = {header: target for target, (_, header) in claims.items()}
    taken = set(winners.values())
    for kind in ("dx", "px"):
        if kind in taken:
            continue  # a single dx/px column wins; part columns pass through (and are reported as unread)
        ordered = sorted((p for p in parts if p.kind == kind), key=CodePart.order)
        for part in ordered:
            plan.parts[part.header] = part
        if kind == "dx":
            plan.dx_parts = [p.header for p in ordered]
        else:
            plan.px_parts = [p.header for p in ordered]

    from drgkit.outputs import ALL_RESULT_COLUMNS

    vocabulary = fields()
    for header in headers:
        stale = (header in ALL_RESULT_COLUMNS and header not in winners) or (
            header in winners and getattr(vocabulary.get(winners[header]), "type", "") == "result"
        )
        if drop_results and stale and header not in plan.parts and header not in plan.user_mapped:
            plan.dropped.append(header)  # recomputed: a stale payment must not sit beside a new group
            continue
        if header in winners:
            plan.rename[header] = winners[header]
        elif header in taken and header not in plan.parts:
            # A loser whose own name is now another column's target keeps its data under a new name, one no
            # other column has (x_source may exist already: x_source_2 then)
            used = set(headers) | taken | set(plan.rename.values())
            name, k = f"{header}_source", 1
            while name in used:
                k += 1
                name = f"{header}_source_{k}"
            plan.rename[header] = name
        else:
            plan.rename[header] = header
    return plan


def field_sources(headers: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """{field: header} for the fields among ``names`` a table has, under their canonical name or any label
    of the vocabulary (the best-ranked label wins) — how a stage downstream of ``group`` finds its inputs
    in a result that kept the user's own headers."""
    headers = list(headers)
    plan = plan_headers(headers, drop_results=False)
    found = {}
    for name in names:
        if name in headers:
            found[name] = name
        else:
            source = plan.source_of(name)
            if source is not None:
                found[name] = source
    return found


def find_header(headers: Iterable[str], aliases: Iterable[str]) -> str | None:
    """The first header (in alias priority order) matching one of ``aliases``."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)
    for alias in aliases:
        found = by_key.get(normalize_header(alias))
        if found is not None:
            return found
    return None


def expected_dx_headers() -> str:
    """A short human list of recognised diagnosis headers, for error messages."""
    return "dx, 诊断编码, 主要诊断编码 / 主要诊断代码, 其他诊断编码1..N, 出院诊断编码1..N, dx1..N, diag_code1..N"
