"""Consistency checks on reported numbers: pure functions that show their arithmetic.

Each check returns a ``CheckResult`` whose ``message`` states the numbers and the computation, so a
reviewer can verify the verdict by hand. Reported values should be passed as the strings written
in the source ("38.63", "45.4"): their written precision decides what rounding can reproduce.

Rounding: authors and software differ at exact ties (x.xx5), so a value is accepted when either
round-half-up (half away from zero, as taught and as Excel/SPSS display) or round-half-even (as
Python, R and numpy) reproduces it. Truncation is never accepted: 5/11 = 45.45...% reported as
45.4 is a reporting error, not a rounding convention.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from helpers.errors import EvidenceInputError
from helpers.evidence.sources import number_tokens, number_value

_WHERE = "checks"
_ROUNDINGS = ("half-up", "half-even")


@dataclass(frozen=True)
class CheckResult:
    """Verdict of one check: ``ok`` and a message showing the evidence and the arithmetic.

    ``informative`` is False when the check cannot tell anything for these inputs (it then passes).
    """

    check: str
    ok: bool
    message: str
    informative: bool = True


# --------------------------------------------------------------------------- arithmetic helpers


def _reported(value: str | float | int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EvidenceInputError(_WHERE, name, "a number as reported (preferably a string)", value)
    return value.strip() if isinstance(value, str) else repr(value)


def _decimals(reported: str) -> int:
    """Decimal places as written: "45.4" -> 1, "62.5%" -> 1, "11" -> 0."""
    digits = reported.strip().removesuffix("%").strip()
    return len(digits.split(".", 1)[1]) if "." in digits else 0


def _round(value: Fraction, decimals: int, rule: str) -> Fraction:
    """Round exactly to ``decimals`` (>= 0) places with 'half-up' (away from zero) or 'half-even'.

    In integers: |value| * 10^decimals = whole + remainder / denominator.
    """
    scale = 10**decimals
    whole, remainder = divmod(abs(value.numerator) * scale, value.denominator)
    half = 2 * remainder - value.denominator  # > 0 above one half, 0 at one half exactly
    if half > 0 or (half == 0 and (rule == "half-up" or whole % 2 == 1)):
        whole += 1
    return Fraction(-whole if value < 0 else whole, scale)


def _show(value: Fraction, decimals: int) -> str:
    """A fraction as a decimal with enough places to show how it rounds."""
    return f"{float(value):.{decimals}f}"


def _reproducing_rules(exact: Fraction, decimals: int, target: Fraction) -> list[str]:
    return [rule for rule in _ROUNDINGS if _round(exact, decimals, rule) == target]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EvidenceInputError(_WHERE, name, "a positive integer", value)
    return value


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EvidenceInputError(_WHERE, name, "a non-negative integer", value)
    return value


# --------------------------------------------------------------------------- checks


def grim(mean: str | float, n: int, *, decimals: int | None = None, items: int = 1) -> CheckResult:
    """GRIM test (Brown & Heathers 2017, Soc Psychol Personal Sci 8:363-369).

    For a mean of integer-valued scores over ``n`` people (``items`` integer items averaged per
    person), some integer total T must give round(T / (n * items), decimals) == mean. ``decimals``
    defaults to the places written in ``mean`` (pass the reported string: a float loses trailing
    zeros). When 10**decimals <= n * items every mean is attainable and the test is not
    informative. Only apply it to integer-scored measures (counts, sums of integer items), not to
    percentage scores, ages or lab values.
    """
    reported = _reported(mean, "mean")
    n = _positive_int(n, "n")
    items = _positive_int(items, "items")
    places = _decimals(reported) if decimals is None else _count(decimals, "decimals")
    target = number_value(reported)
    size = n * items
    label = f"GRIM mean {reported}, n = {n}" + (f" × {items} items" if items > 1 else "")
    if 10**places <= size:
        return CheckResult(
            "grim",
            True,
            f"{label}: GRIM not informative — with {places} decimal(s) the means step by "
            f"1/{size}, finer than 1/10^{places}, so every mean is attainable.",
            informative=False,
        )
    centre = target * size
    candidates = range(math.floor(centre) - 1, math.ceil(centre) + 2)
    shown = places + 4
    for total in candidates:
        rules = _reproducing_rules(Fraction(total, size), places, target)
        if rules:
            quotient = _show(Fraction(total, size), shown)
            return CheckResult(
                "grim",
                True,
                f"{label}: {reported} × {size} = {_show(centre, places + 2)}; total {total} gives "
                f"{total}/{size} = {quotient} -> {reported} ({' and '.join(rules)} rounding). "
                "Consistent.",
            )
    nearest = [math.floor(centre), math.ceil(centre)]
    tried = "; ".join(
        f"{t}/{size} = {_show(Fraction(t, size), shown)} -> "
        f"{_show(_round(Fraction(t, size), places, 'half-up'), places)}"
        for t in dict.fromkeys(nearest)
    )
    return CheckResult(
        "grim",
        False,
        f"{label}: {reported} × {size} = {_show(centre, places + 2)}; nearest integer totals "
        f"give {tried}. No integer total reproduces {reported}: inconsistent.",
    )


def percent_matches_count(count: int, denominator: int, percent_reported: str) -> CheckResult:
    """Does ``count / denominator * 100`` round to the reported percent at its written precision?

    Either tie rule is accepted; truncation is not (the message says when only truncation fits).
    """
    count = _count(count, "count")
    denominator = _positive_int(denominator, "denominator")
    reported = _reported(percent_reported, "percent_reported")
    places = _decimals(reported)
    target = number_value(reported)
    exact = Fraction(100 * count, denominator)
    rounded = _round(exact, places, "half-up")
    rules = _reproducing_rules(exact, places, target)
    shown = f"{count}/{denominator} = {_show(exact, places + 3)}%"
    if rules:
        return CheckResult(
            "percent_matches_count",
            True,
            f"{shown} -> {reported}% ({' and '.join(rules)} rounding to {places} decimal(s)). "
            "Consistent.",
        )
    truncated = Fraction(math.floor(exact * 10**places), 10**places)
    note = " (the reported value is a truncation, not a rounding)" if truncated == target else ""
    return CheckResult(
        "percent_matches_count",
        False,
        f"{shown} rounds to {_show(rounded, places)}%, not the reported {reported}%{note}. "
        "Inconsistent.",
    )


def _percent_feasible(target: Fraction, places: int, denominator: int) -> bool:
    centre = target * denominator / 100
    for count in range(max(0, math.floor(centre) - 1), min(denominator, math.ceil(centre) + 1) + 1):
        if _reproducing_rules(Fraction(100 * count, denominator), places, target):
            return True
    return False


def feasible_denominators(
    percents: Sequence[str], *, n_max: int = 1000, n_min: int = 1
) -> list[int]:
    """All whole denominators N in [n_min, n_max] where every percentage is some count/N.

    Each percentage must equal round(100 * k / N) at its written precision for an integer
    0 <= k <= N (either tie rule). Use it to find what a set of percentages can be "of".
    """
    if not percents:
        raise EvidenceInputError(_WHERE, "percents", "at least one reported percentage", percents)
    n_min = _positive_int(n_min, "n_min")
    n_max = _positive_int(n_max, "n_max")
    parsed = []
    for index, percent in enumerate(percents):
        reported = _reported(percent, f"percents[{index}]")
        value = number_value(reported)
        if not 0 <= value <= 100:
            raise EvidenceInputError(_WHERE, f"percents[{index}]", "a percentage in 0-100", percent)
        parsed.append((value, _decimals(reported)))
    return [
        denominator
        for denominator in range(n_min, n_max + 1)
        if all(_percent_feasible(value, places, denominator) for value, places in parsed)
    ]


def sd_within_range(
    sd: str | float,
    scale_min: float,
    scale_max: float,
    n: int,
    *,
    mean: str | float | None = None,
) -> CheckResult:
    """Is a sample SD possible for a variable bounded by [scale_min, scale_max] with n values?

    The largest sample SD of n values in a range is (max - min) / 2 * sqrt(n / (n - 1)) (half at
    each end). With ``mean`` the bound tightens to sqrt((mean - min)(max - mean) * n / (n - 1))
    (Bhatia-Davis inequality, sample-SD form).
    """
    n = _positive_int(n, "n")
    if n < 2:
        raise EvidenceInputError(_WHERE, "n", "at least 2 values for a sample SD", n)
    sd_value = float(number_value(_reported(sd, "sd")))
    low, high = float(scale_min), float(scale_max)
    if not low < high:
        raise EvidenceInputError(_WHERE, "scale_max", f"a value above scale_min {low}", high)
    correction = math.sqrt(n / (n - 1))
    if mean is None:
        bound = (high - low) / 2 * correction
        arithmetic = f"({high:g} - {low:g}) / 2 × sqrt({n}/{n - 1}) = {bound:.3f}"
    else:
        mean_value = float(number_value(_reported(mean, "mean")))
        if not low <= mean_value <= high:
            return CheckResult(
                "sd_within_range",
                False,
                f"mean {mean} lies outside the scale [{low:g}, {high:g}]: impossible.",
            )
        bound = math.sqrt((mean_value - low) * (high - mean_value)) * correction
        arithmetic = (
            f"sqrt(({mean_value:g} - {low:g}) × ({high:g} - {mean_value:g})) × "
            f"sqrt({n}/{n - 1}) = {bound:.3f}"
        )
    ok = 0 <= sd_value <= bound
    verdict = "possible" if ok else "impossible"
    return CheckResult(
        "sd_within_range",
        ok,
        f"SD {sd} on a scale [{low:g}, {high:g}] with n = {n}: largest possible SD is "
        f"{arithmetic}; {verdict}.",
    )


def counts_within_denominator(count: int, denominator: int) -> CheckResult:
    """A count of people or events with a property cannot exceed its denominator."""
    count = _count(count, "count")
    denominator = _positive_int(denominator, "denominator")
    ok = count <= denominator
    relation = "<=" if ok else ">"
    return CheckResult(
        "counts_within_denominator",
        ok,
        f"count {count} {relation} denominator {denominator}: {'possible' if ok else 'impossible'}.",
    )


def _exact_mcnemar(discordant_before: int, discordant_after: int) -> Fraction:
    """Exact two-sided McNemar p: min(1, 2 P(X <= min(b, c))) for X ~ Binomial(b + c, 1/2)."""
    total = discordant_before + discordant_after
    if total == 0:
        return Fraction(1)
    tail = sum(math.comb(total, k) for k in range(min(discordant_before, discordant_after) + 1))
    return min(Fraction(1), Fraction(2 * tail, 2**total))


def mcnemar_p_range(before: int, after: int, n: int) -> tuple[float, float]:
    """Smallest and largest exact McNemar p over every pairing of two margins of n patients.

    With ``before`` patients in a state at baseline and ``after`` later, those in it at both
    times ``a`` range over max(0, before + after - n) .. min(before, after); the discordant
    cells are b = before - a and c = after - a.
    """
    before, after = _count(before, "before"), _count(after, "after")
    n = _positive_int(n, "n")
    if before > n or after > n:
        raise EvidenceInputError(
            _WHERE, "before/after", f"counts of at most n = {n}", (before, after)
        )
    p_values = [
        _exact_mcnemar(before - both, after - both)
        for both in range(max(0, before + after - n), min(before, after) + 1)
    ]
    return float(min(p_values)), float(max(p_values))


_P_TEXT = re.compile(r"^\s*(?:p\s*)?(<=|>=|<|>|=|≤|≥)?\s*(\d*\.?\d+(?:[eE]-?\d+)?)\s*$", re.I)


def paired_p_attainable(before: int, after: int, n: int, p_reported: str) -> CheckResult:
    """Could a reported before-after p-value be an exact McNemar test of these counts?

    Only the margins are reported (who changed is not), so the exact McNemar p can lie anywhere
    between the smallest and the largest over every pairing (:func:`mcnemar_p_range`). A
    reported p outside that range, or a bound ("p < 0.01") no pairing satisfies, comes from
    another test or other counts.
    """
    match = _P_TEXT.match(str(p_reported))
    if not match:
        raise EvidenceInputError(_WHERE, "p_reported", "a p-value as written", p_reported)
    relation, value = match.group(1) or "=", float(match.group(2))
    low, high = mcnemar_p_range(before, after, n)
    shown = f"{low:.3g} to {high:.3g}" if f"{low:.3g}" != f"{high:.3g}" else f"{low:.3g}"
    arithmetic = (
        f"{before}/{n} before, {after}/{n} after: the exact McNemar p over every pairing the "
        f"margins allow is {shown}"
    )
    if relation in ("<", "<=", "≤"):
        ok = low <= value
    elif relation in (">", ">=", "≥"):
        ok = high >= value
    else:
        ok = low <= value <= high
    verdict = (
        "consistent"
        if ok
        else "no exact McNemar test of these counts gives it: the source used another test "
        "or other counts"
    )
    return CheckResult(
        "paired_p", ok, f"reported p {relation} {match.group(2)}; {arithmetic}; {verdict}."
    )


def percent_unit(percent: str, patients: int, administrations: int) -> CheckResult:
    """Is a percentage of patients also a percentage of administrations?

    When a percentage is written without its count, a whole count of the patients and a whole
    count of the administrations (patients × administrations per patient) may both reproduce
    it (18.75% = 3/16 = 12/64): the unit is then unknown.
    """
    reported = _reported(percent, "percent")
    patients = _positive_int(patients, "patients")
    administrations = _positive_int(administrations, "administrations")
    places, target = _decimals(reported), number_value(reported)
    total = patients * administrations
    fits = {
        denominator: _percent_feasible(target, places, denominator)
        for denominator in (patients, total)
    }
    counts = {
        denominator: round(float(target) * denominator / 100) for denominator in (patients, total)
    }
    if administrations == 1:
        return CheckResult(
            "percent_unit",
            True,
            "one administration per patient: patients and administrations are the same count",
            informative=False,
        )
    words = {True: "fits", False: "does not fit"}
    message = (
        f"{reported}% {words[fits[patients]]} {patients} patients ({counts[patients]}/{patients}) "
        f"and {words[fits[total]]} {total} administrations ({patients} × {administrations}"
        + (f"; {counts[total]}/{total}" if fits[total] else "")
        + ")"
    )
    if all(fits.values()):
        return CheckResult(
            "percent_unit",
            False,
            f"{message}: the unit of the percentage is unknown, so it is not a per-patient rate",
        )
    share = (
        "a share of the patients"
        if fits[patients]
        else "a share of the administrations, not of the patients"
        if fits[total]
        else "a share of neither"
    )
    return CheckResult("percent_unit", True, f"{message}: {share}.")


# --------------------------------------------------------------------------- coverage

# Reference citations "[26]", "[7, 8]", "[13–16, 30–38]"; figure/table labels; ordinals;
# DOIs ("doi:10.1016/j.clineuro.2021.106565"); names of scales and instruments that contain
# digits ("ISCSCI-92", "GMFM-88", "SF-36": two or more capitals, a hyphen, the digits).
_IGNORED_SPANS = re.compile(
    r"\[\s*\d+(?:\s*[-–—,]\s*\d+)*\s*\]"
    r"|\b(?:Tables?|Figs?\.?|Figures?|Additional files?|Supplementary (?:Tables?|Figures?|files?))"
    r"\s*\d+[A-Za-z]?(?:\s*(?:and|,|–|-)\s*\d+[A-Za-z]?)*"
    r"|\b\d+(?:st|nd|rd|th)\b"
    r"|\b10\.\d{4,9}/[^\s\"<>]*[^\s\"<>.,;:)\]]"
    r"|\b[A-Z][A-Za-z]*[A-Z][A-Za-z]*-\d+[A-Za-z]?\b"
)


def coverage(
    text: str, captured_numbers: Iterable[str | int | float], *, ignore: Iterable[str] = ()
) -> list[tuple[str, int]]:
    """Numbers in ``text`` that no sheet captured: ``(token, offset)`` in order of appearance.

    ``text`` is scanned as given (pass ``SourceDocument.text`` or a slice of it; offsets are into
    it). Tokens are compared numerically with ``captured_numbers`` and ``ignore`` (so "0.50"
    counts as captured by 0.5; "-1.3" is not captured by 1.3). Never reported: reference citations
    in square brackets ("[26]", "[13–19]"), figure/table/additional-file labels ("Table 2",
    "Fig. 3", "Additional file 1"), ordinals ("2nd infusion", "4th lumbar"), DOIs
    ("doi:10.1016/j.clineuro.2021.106565") and instrument names with digits ("ISCSCI-92",
    "GMFM-88"). Identifiers glued to letters (H2O, CD34, NCT05472428) are never number
    tokens in the first place.
    """
    known = {number_value(value) for value in captured_numbers}
    known |= {number_value(value) for value in ignore}
    skipped = [match.span() for match in _IGNORED_SPANS.finditer(text)]
    missing = []
    for token, offset in number_tokens(text):
        if any(start <= offset < end for start, end in skipped):
            continue
        if number_value(token) not in known:
            missing.append((token, offset))
    return missing
