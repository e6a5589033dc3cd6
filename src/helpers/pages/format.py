"""One way to write every number, interval, sign and name on every page.

The site's conventions, in one place so that the same number reads the same on the trial
pages, the synthesis, the index and the methods page:

* **Effects are oriented so that a positive value is a benefit** (:func:`benefit`), on every
  page and figure, and labelled so (:data:`BENEFIT_NOTE`).
* Standardised effects and their intervals: 2 decimals; percentages: 1 decimal; p-values:
  "< 0.001" below 0.001, else 2 significant digits; counts as whole numbers.
* Intervals read "0.12 to 0.85" (never "0.12–0.85", which reads as a range of negative
  numbers); a degenerate interval (low = high) is written as the single value.
* Negative numbers use the typographic minus sign.
* Months are written as the sheet gives them (``12``, ``1.5``); "months" is the unit, never
  "month(s)": :func:`plural` picks the word.
* Studies are named by their label ("Akhlaghpasand 2025"), outcomes by theirs ("GMFM total"),
  codes by :func:`helpers.labels.label` — never identifiers.
"""

from __future__ import annotations

import math

import pandas as pd

from helpers import labels

MISSING = "not reported"
BENEFIT_NOTE = "positive values favour benefit"


def present(value: object) -> bool:
    """A value that is there: not None, not NaN, not pandas' NA."""
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are present
        return True


def minus(text: str) -> str:
    """Typographic minus sign, so negative numbers do not read as dashes."""
    return text.replace("-", "−")


def number(value: float, decimals: int = 2) -> str:
    """A computed number at a fixed number of decimals: '0.51', '−1.03'."""
    if not present(value):
        return MISSING
    return minus(f"{float(value):.{decimals}f}")


def signed(value: float, decimals: int = 2) -> str:
    """'+0.51', '−1.03', '0.00'."""
    if not present(value):
        return MISSING
    value = float(value)
    if round(value, decimals) == 0:
        return f"{0:.{decimals}f}"
    return minus(f"{value:+.{decimals}f}")


def reported(value: object) -> str:
    """A reported number as the source gives it: 127.7, 16, 0.5 (no trailing zeros added)."""
    if not present(value):
        return MISSING
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return minus(str(int(value)))
    return minus(f"{float(value):g}" if abs(float(value)) < 1e15 else str(value))


def interval(low: float, high: float, decimals: int = 2) -> str:
    """'0.12 to 0.85'; a degenerate interval is the single value; missing ends say so."""
    if not present(low) or not present(high):
        return MISSING
    low_text, high_text = number(low, decimals), number(high, decimals)
    return low_text if low_text == high_text else f"{low_text} to {high_text}"


def estimate(value: float, low: float, high: float, decimals: int = 2) -> str:
    """'0.51 (95% CI 0.12 to 0.85)'."""
    if not present(value):
        return MISSING
    return f"{number(value, decimals)} (95% CI {interval(low, high, decimals)})"


def percent(proportion: float, decimals: int = 1) -> str:
    """A proportion as a percentage: 0.625 -> '62.5%' (always 1 decimal)."""
    if not present(proportion):
        return MISSING
    return f"{100 * float(proportion):.{decimals}f}%"


def percent_interval(low: float, high: float, decimals: int = 1) -> str:
    """'0.0% to 8.8%'; a degenerate interval is the single percentage."""
    if not present(low) or not present(high):
        return MISSING
    low_text, high_text = percent(low, decimals), percent(high, decimals)
    return low_text if low_text == high_text else f"{low_text} to {high_text}"


def p_value(p: float) -> str:
    """'p < 0.001', 'p = 0.047', 'p = 0.25' (2 significant digits)."""
    if not present(p):
        return MISSING
    shown = _p(float(p))
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _p(p: float) -> str:
    if p < 0.001:
        return "< 0.001"
    return f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def p_range(low: float, high: float) -> str:
    """The p-values a set of possible analyses gives: 'p = 0.25 to 0.61'; one p-value when
    both ends read the same ('p = 0.0078'); 'not reported' when either is missing."""
    if not present(low) or not present(high):
        return MISSING
    low_text, high_text = p_value(low), p_value(high)
    if low_text == high_text:
        return low_text
    return f"{low_text} to {high_text.split(' ', 2)[-1]}"


def count(value: object) -> str:
    """A whole number of patients, events, trials."""
    if not present(value):
        return MISSING
    return str(int(value))


def months(value: object) -> str:
    """'12 months', '1 month', '1.5 months'; not reported when missing."""
    if not present(value):
        return MISSING
    value = float(value)
    return plural(value, "month") if not value.is_integer() else plural(int(value), "month")


def plural(count_: float, word: str, many: str | None = None) -> str:
    """'1 trial', '3 trials', '1.5 months': the word agrees with the count."""
    shown = f"{count_:g}" if isinstance(count_, float) else str(count_)
    return f"{shown} {word if count_ == 1 else many or word + 's'}"


def benefit(value: float, direction_of_benefit: object) -> float:
    """A change turned so that positive = benefit: higher-is-better keeps its sign,
    lower-is-better is negated, no agreed direction gives NaN."""
    sign = {"higher": 1.0, "lower": -1.0}.get(str(direction_of_benefit), math.nan)
    return float(value) * sign if present(value) else math.nan


def study(trial_id: object, trials: pd.DataFrame) -> str:
    """A study's label ('Akhlaghpasand 2025') from the trials table."""
    match = trials.loc[trials["trial_id"] == trial_id, "label"]
    return str(match.iloc[0]) if not match.empty else str(trial_id)


def condition(code: object) -> str:
    return labels.label("condition", code)


def domain(code: object) -> str:
    return labels.label("domain", code)
