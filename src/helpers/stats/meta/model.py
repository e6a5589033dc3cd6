"""``rma``: the intercept-only random-effects (or equal-effects) model and its result object."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.stats.effects.checks import ArrayLike
from helpers.stats.effects.sizes import EffectSizes, _default_slab, _fixed
from helpers.stats.meta.estimation import (
    _check_options,
    _critical_value,
    _fit,
    _fit_statistics,
    _p_value,
)
from helpers.stats.meta.printing import _LABEL_WIDTH, _SIGNIF_LEGEND, _aligned, _format_p, _stars
from helpers.stats.meta.studies import _studies


@dataclass(frozen=True, repr=False)
class RmaResult:
    """Pooled estimate of an intercept-only model (metafor ``rma.uni`` + ``predict``).

    ``zval`` is set for ``test="z"`` and ``tval`` (with ``df``) for ``test="knha"``. ``i2`` is in
    percent. ``tau2_se`` is None for ``"EE"`` and when k = 1. ``pi_low/pi_high`` is the
    prediction interval for the true effect of a new study (None for ``"EE"``: metafor gives
    none). ``loglik``, ``deviance``, ``aic``, ``bic``, ``aicc`` are the fit statistics metafor's
    ``summary`` prints (REML likelihood for REML, else ML). The studies fitted are kept as
    ``yi``, ``vi``, ``ni``, ``slab`` (as metafor's object keeps them), with ``measure``.

    ``print(res)`` reads like metafor's ``print(res)`` followed by ``predict(res)``;
    ``res.summary()`` adds the fit statistics; notebooks show it as HTML; ``to_frame()`` is one
    row per quantity.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    zval: float | None
    tval: float | None
    df: int | None
    pval: float
    tau2: float
    tau2_se: float | None
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    k: int
    pi_low: float | None
    pi_high: float | None
    method: str
    test: str
    level: float
    loglik: float
    notes: tuple[str, ...] = field(default=())
    deviance: float | None = None
    aic: float | None = None
    bic: float | None = None
    aicc: float | None = None
    measure: str | None = None
    yi: np.ndarray | None = field(default=None, compare=False)
    vi: np.ndarray | None = field(default=None, compare=False)
    ni: np.ndarray | None = field(default=None, compare=False)
    slab: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def labels(self) -> tuple[str, ...]:
        """Study labels: ``slab``, or "Study 1" ... "Study k"."""
        return self.slab if self.slab is not None else _default_slab(range(self.k))

    @property
    def weights(self) -> np.ndarray:
        """Percent weight of each study, ``100 w_i / sum w``, ``w_i = 1/(v_i + tau^2)``
        (metafor ``weights(res)``)."""
        if self.vi is None:
            raise ValueError("this result does not hold its studies' variances")
        w = 1 / (self.vi + self.tau2)
        return 100 * w / w.sum()

    @property
    def model(self) -> str:
        return "Equal-Effects Model" if self.method == "EE" else "Random-Effects Model"

    def predict(self, transf: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
        """metafor ``predict(res, transf=)``: pred, se, CI and PI, optionally transformed.

        ``transf`` (e.g. ``np.exp`` for RR, OR, ROM) is applied to the estimate and the bounds;
        the se is then dropped, as metafor does. No PI columns for an equal-effects model.
        """
        values = {"pred": self.estimate, "se": self.se}
        values |= {"ci_low": self.ci_low, "ci_high": self.ci_high}
        if self.pi_low is not None and self.pi_high is not None:
            values |= {"pi_low": self.pi_low, "pi_high": self.pi_high}
        if transf is not None:
            del values["se"]
            values = {key: float(transf(np.asarray(value))) for key, value in values.items()}
        return pd.DataFrame([values])

    def summary(self) -> RmaSummary:
        """The model with its fit statistics (metafor ``summary(res)``)."""
        return RmaSummary(self)

    def __repr__(self) -> str:
        statistic = f"z = {_fixed(self.zval)}" if self.zval is not None else None
        if self.tval is not None:
            statistic = f"t({self.df}) = {_fixed(self.tval)}"
        heterogeneity = (
            f"I^2 = {_fixed(self.i2, 2)}%"
            if self.method == "EE"
            else f"tau^2 = {_fixed(self.tau2)}, I^2 = {_fixed(self.i2, 2)}%"
        )
        return (
            f"RmaResult({self.method}, {self.test}; k = {self.k}: estimate "
            f"{_fixed(self.estimate)} [{_fixed(self.ci_low)}, {_fixed(self.ci_high)}], "
            f"{statistic}, p {_format_p(self.pval, with_relation=True)}; {heterogeneity})"
        )

    def __str__(self) -> str:
        return "\n".join(self._text_lines(fit_statistics=False))

    def _repr_html_(self) -> str:
        return self._html(fit_statistics=False)

    # pieces shared by the text and the HTML display -----------------------------------------

    def _title(self) -> str:
        if self.method == "EE":
            return f"{self.model} (k = {self.k})"
        return f"{self.model} (k = {self.k}; tau^2 estimator: {self.method})"

    def _heterogeneity(self) -> list[tuple[str, str]]:
        """(label, value) pairs of print.rma.uni's heterogeneity block."""
        rows = []
        if self.method != "EE":
            zero = abs(self.tau2) <= np.finfo(float).eps * 10
            tau2 = _fixed(self.tau2, 0 if zero else 4)
            if self.tau2_se is not None:
                tau2 += f" (SE = {_fixed(self.tau2_se)})"
            rows += [
                ("tau^2 (estimated amount of total heterogeneity):", tau2),
                ("tau (square root of estimated tau^2 value):", _fixed(self.tau, 0 if zero else 4)),
            ]
        rows += [
            ("I^2 (total heterogeneity / total variability):", f"{_fixed(self.i2, 2)}%"),
            ("H^2 (total variability / sampling variability):", _fixed(self.h2, 2)),
        ]
        return rows

    def _q_test(self) -> str:
        return (
            f"Q(df = {self.q_df}) = {_fixed(self.q)}, "
            f"p-val {_format_p(self.q_pvalue, with_relation=True)}"
        )

    def _model_table(self) -> tuple[list[str], list[str]]:
        names = ["estimate", "se"]
        values = [_fixed(self.estimate), _fixed(self.se)]
        if self.tval is not None:
            names += ["tval", "df"]
            values += [_fixed(self.tval), str(self.df)]
        else:
            names.append("zval")
            values.append(_fixed(self.zval if self.zval is not None else math.nan))
        names += ["pval", "ci.lb", "ci.ub", ""]
        values += [
            _format_p(self.pval),
            _fixed(self.ci_low),
            _fixed(self.ci_high),
            _stars(self.pval),
        ]
        return names, values

    def _predict_table(self) -> tuple[list[str], list[str]] | None:
        if self.pi_low is None or self.pi_high is None:
            return None
        names = ["pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"]
        values = [self.estimate, self.se, self.ci_low, self.ci_high, self.pi_low, self.pi_high]
        return names, [_fixed(value) for value in values]

    def _fit_table(self) -> tuple[list[str], list[str]]:
        names = ["logLik", "deviance", "AIC", "BIC", "AICc"]
        values = [self.loglik, self.deviance, self.aic, self.bic, self.aicc]
        return names, [_fixed(math.nan if value is None else value) for value in values]

    def _text_lines(self, *, fit_statistics: bool) -> list[str]:
        lines = [self._title(), ""]
        if fit_statistics:
            names, values = self._fit_table()
            width = max(len(text) for text in names + values)  # R prints a vector in one width
            lines += _aligned([n.rjust(width) for n in names], [v.rjust(width) for v in values])
            lines.append("")
        lines += [f"{label.ljust(_LABEL_WIDTH)}{value}" for label, value in self._heterogeneity()]
        lines += ["", "Test for Heterogeneity:", self._q_test(), "", "Model Results:", ""]
        lines += _aligned(*self._model_table())
        lines += ["", "---", _SIGNIF_LEGEND]
        prediction = self._predict_table()
        if prediction is not None:
            lines += ["", "Prediction (predict):", ""]
            lines += [" " + line for line in _aligned(*prediction, gap=" ")]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {note}" for note in self.notes]
        return lines

    def _html(self, *, fit_statistics: bool) -> str:
        def table(names: Sequence[str], values: Sequence[str]) -> str:
            head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
            body = "".join(f"<td>{html.escape(v)}</td>" for v in values)
            return f"<table><thead><tr>{head}</tr></thead><tbody><tr>{body}</tr></tbody></table>"

        parts = [f"<p><strong>{html.escape(self._title())}</strong></p>"]
        if fit_statistics:
            parts.append(table(*self._fit_table()))
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in [
                *self._heterogeneity(),
                ("Test for heterogeneity:", self._q_test()),
            ]
        )
        parts.append(f"<table><tbody>{rows}</tbody></table>")
        names, values = self._model_table()
        prediction = self._predict_table()
        if prediction is not None:
            names, values = names[:-1] + prediction[0][4:], values[:-1] + prediction[1][4:]
        parts += ["<p>Model results:</p>", table(names, values)]
        if self.notes:
            items = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
            parts.append(f"<p>Notes:</p><ul>{items}</ul>")
        return '<div class="rma-result">' + "".join(parts) + "</div>"

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity: ``quantity`` (the attribute name), ``value``, ``description``.

        ``attrs`` carries model, method, test, level and measure.
        """
        rows: list[tuple[str, float | int, str]] = [
            ("k", self.k, "number of studies"),
            ("estimate", self.estimate, "pooled estimate"),
            ("se", self.se, "standard error of the estimate"),
        ]
        if self.tval is not None:
            rows += [
                ("tval", self.tval, "t statistic (Knapp-Hartung)"),
                ("df", self.df, "degrees of freedom of the t statistic"),
            ]
        elif self.zval is not None:
            rows.append(("zval", self.zval, "z statistic"))
        rows += [
            ("pval", self.pval, "p-value of the estimate"),
            ("ci_low", self.ci_low, f"lower bound of the {self.level:g}% confidence interval"),
            ("ci_high", self.ci_high, f"upper bound of the {self.level:g}% confidence interval"),
        ]
        if self.pi_low is not None and self.pi_high is not None:
            rows += [
                ("pi_low", self.pi_low, f"lower bound of the {self.level:g}% prediction interval"),
                (
                    "pi_high",
                    self.pi_high,
                    f"upper bound of the {self.level:g}% prediction interval",
                ),
            ]
        if self.method != "EE":
            rows.append(("tau2", self.tau2, "tau^2, estimated amount of total heterogeneity"))
            if self.tau2_se is not None:
                rows.append(("tau2_se", self.tau2_se, "standard error of tau^2"))
            rows.append(("tau", self.tau, "square root of tau^2"))
        rows += [
            ("i2", self.i2, "I^2 (%), total heterogeneity / total variability"),
            ("h2", self.h2, "H^2, total variability / sampling variability"),
            ("q", self.q, "Cochran's Q (test for heterogeneity)"),
            ("q_df", self.q_df, "degrees of freedom of Q"),
            ("q_pvalue", self.q_pvalue, "p-value of Q"),
            ("loglik", self.loglik, f"log-likelihood ({self._likelihood()})"),
        ]
        for name, value, text in (
            ("deviance", self.deviance, "deviance"),
            ("aic", self.aic, "Akaike information criterion"),
            ("bic", self.bic, "Bayesian information criterion"),
            ("aicc", self.aicc, "AIC with small-sample correction"),
        ):
            if value is not None:
                rows.append((name, value, text))
        frame = pd.DataFrame(
            {
                "quantity": [row[0] for row in rows],
                "value": [float(row[1]) for row in rows],
                "description": [row[2] for row in rows],
            }
        )
        frame.attrs = {
            "model": self.model,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "measure": self.measure,
        }
        return frame

    def _likelihood(self) -> str:
        return "restricted, REML" if self.method == "REML" else "ML"


@dataclass(frozen=True, repr=False)
class RmaSummary:
    """metafor's ``summary(res)``: the fitted model with its fit statistics.

    Prints (``repr`` and ``str``) as metafor does; notebooks show it as HTML.
    """

    result: RmaResult

    @property
    def fit_statistics(self) -> pd.DataFrame:
        """logLik, deviance, AIC, BIC, AICc in one row (metafor ``fitstats(res)``)."""
        names, _ = self.result._fit_table()
        values = [
            self.result.loglik,
            self.result.deviance,
            self.result.aic,
            self.result.bic,
            self.result.aicc,
        ]
        return pd.DataFrame([dict(zip(names, values, strict=True))])

    def __str__(self) -> str:
        return "\n".join(self.result._text_lines(fit_statistics=True))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.result._html(fit_statistics=True)


def rma(
    yi: ArrayLike | EffectSizes | pd.DataFrame,
    vi: ArrayLike | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    slab: Sequence[object] | str | None = None,
    na_action: str = "fail",
) -> RmaResult:
    """Random-effects (or equal-effect) meta-analysis of ``yi`` with sampling variances ``vi``.

    metafor ``rma(yi, vi, method=, test=, level=)`` followed by ``predict()``. ``yi`` may also be
    effect sizes from :func:`helpers.stats.effects.escalc` - an ``EffectSizes`` or a DataFrame
    with ``yi`` and ``vi`` columns - with ``vi`` omitted (``rma(yi, vi, data=dat)`` in metafor).
    ``slab`` labels the studies (a column name for a DataFrame). Missing yi or vi raise unless
    ``na_action="omit"`` (then the rows are dropped with a warning listing them).

    Weights ``w_i = 1/(v_i + tau^2)``; ``mu = sum w y / sum w``; ``se = sqrt(1/sum w)`` (scaled
    by ``sqrt(sum w (y - mu)^2 / (k - 1))`` under ``test="knha"``, Hartung & Knapp 2001,
    untruncated). tau^2 estimators: see the module docstring (REML: Viechtbauer 2005; DL:
    DerSimonian & Laird 1986, Control Clin Trials 7:177; PM: Paule & Mandel 1982). Q is
    Cochran's Q with ``w = 1/v``. For RE models ``I^2 = 100 tau^2/(tau^2 + s^2)`` and
    ``H^2 = (tau^2 + s^2)/s^2`` with the typical within-study variance
    ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)`` (Higgins & Thompson 2002, Stat Med 21:1539; as
    metafor); for ``"EE"`` ``I^2 = max(0, (Q - df)/Q)`` and ``H^2 = Q/df``, and there is no
    prediction interval. ``level`` is 95 or 0.95.
    """
    _check_options(method, test, level)
    studies = _studies("rma", yi, vi, slab, na_action)
    y, v = studies.yi, studies.vi
    k = y.size
    X = np.ones((k, 1))
    fit = _fit(y, v, X, method, test)
    estimate = float(fit.beta[0])
    se = float(np.sqrt(fit.vb[0, 0]))
    crit = _critical_value(level, fit.ddf)
    notes = list(fit.notes)
    if se > 0:
        statistic = estimate / se
    else:  # only under knha when all yi are equal: metafor's scale factor is then 0
        statistic = 0.0 if estimate == 0 else float(np.copysign(np.inf, estimate))
        notes.append("all estimates are equal: the Knapp-Hartung scale factor and se are 0.")
    pi_low = pi_high = None
    if method != "EE":
        pi_half = float(crit * np.sqrt(fit.tau2 + se**2))
        pi_low, pi_high = estimate - pi_half, estimate + pi_half
    loglik, deviance, aic, bic, aicc = _fit_statistics(y, v, X, fit.tau2, method)
    return RmaResult(
        estimate=estimate,
        se=se,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        zval=float(statistic) if fit.ddf is None else None,
        tval=float(statistic) if fit.ddf is not None else None,
        df=fit.ddf,
        pval=1.0 if statistic == 0 else _p_value(statistic, fit.ddf),
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.q,
        q_df=fit.q_df,
        q_pvalue=fit.q_pvalue,
        k=k,
        pi_low=pi_low,
        pi_high=pi_high,
        method=method,
        test=test,
        level=level,
        loglik=loglik,
        notes=tuple(notes),
        deviance=deviance,
        aic=aic,
        bic=bic,
        aicc=aicc,
        measure=studies.measure,
        yi=y,
        vi=v,
        ni=studies.ni,
        slab=studies.slab,
    )
