"""Effect sizes and confidence intervals, named after metafor's ``escalc`` measures.

Every function is vectorised: pass scalars or equal-length array-likes; the result arrays have
one entry per study. Invalid input raises ``ValueError`` naming the offending argument.

Vocabulary (ours -> metafor ``escalc``)
---------------------------------------
==========================  ==================================================================
ours                        metafor
==========================  ==================================================================
``escalc(measure, ...)``    ``escalc(measure, ...)``: RR, OR, RD, MD, SMD, ROM, MC, SMCC, SMCR,
                            PLO with metafor's argument names (``ai, bi, ci, di, n1i, n2i``,
                            ``m1i, sd1i, m2i, sd2i``, ``ni, ri``, ``xi``) and zero-cell options
                            (``add=1/2, to="only0", drop00=False``)
``na_action="fail"/"omit"`` ``na.action = "na.fail"`` / ``"na.omit"`` (here strict by default)
``mean_change``             ``measure="MC"``   (m1i = post mean, m2i = pre mean)
``smcr``                    ``measure="SMCR"`` (sd1i = pre SD; raw-score standardisation)
``smcc``                    ``measure="SMCC"`` (change-score standardisation)
``logit_proportion``        ``measure="PLO"``  with ``add=1/2, to="only0"``
``EffectSizes.yi / .vi``    ``yi`` / ``vi`` columns of an ``escalc`` object
``EffectSizes.slab / .ni``  study labels (``slab``) and total sample sizes (``ni`` attribute)
``small_sample_correction`` the hidden ``.cmicalc`` (exact gamma-function correction J)
==========================  ==================================================================

Missing values: every function that takes study rows is strict by default - a missing value
(NaN / None) raises a ``ValueError`` naming the column and the rows; ``na_action="omit"`` drops
the incomplete rows with a :class:`MissingValuesOmitted` warning that lists them (metafor omits
by default, with a warning that does not say which).

metafor orders pre-post arguments as ``m1i`` = later (post) and ``m2i`` = earlier (pre) so that
``yi = m1i - m2i``; here the arguments are spelled out (``pre_mean``, ``post_mean`` ...) and every
change is ``post - pre``: a positive effect is an increase.

Also here: recovery of the SD of change (and the pre-post correlation ``r``) from a reported
paired t or p (Cochrane Handbook 6.5.2.8), a sensitivity table over assumed ``r``, exact
(Clopper-Pearson), Wilson and one-sided zero-event intervals for single proportions, and the
range of the exact McNemar p-value when before/after counts are reported without their pairing.

One module per concern: ``calculator`` (``escalc``), ``two_group`` (2x2 counts and group means),
``prepost`` (one group before/after, SD-of-change recovery), ``proportions`` (single proportions),
``pairing`` (before/after counts, pairing unknown), ``missing`` (the ``na_action`` policy),
``sizes`` (the ``EffectSizes`` object) and ``checks`` (input checks shared with
``helpers.stats.meta``). Import the public names from ``helpers.stats.effects``.
"""

from __future__ import annotations

from helpers.stats.effects.calculator import MEASURES, escalc
from helpers.stats.effects.missing import NA_ACTIONS, MissingValuesOmitted
from helpers.stats.effects.pairing import (
    UnknownPairingComparison,
    before_after_unknown_pairing,
    exact_mcnemar_range,
)
from helpers.stats.effects.prepost import (
    ChangeSdRecovery,
    mean_change,
    parse_p_value,
    recover_change_sd,
    sd_change,
    smcc,
    smcr,
    smcr_sensitivity,
)
from helpers.stats.effects.proportions import (
    clopper_pearson_ci,
    clopper_pearson_interval,
    exact_upper_bound,
    logit_proportion,
    wilson_ci,
    zero_event_upper_bound,
)
from helpers.stats.effects.sizes import EffectSizes, small_sample_correction

__all__ = [
    "MEASURES",
    "NA_ACTIONS",
    "ChangeSdRecovery",
    "EffectSizes",
    "MissingValuesOmitted",
    "UnknownPairingComparison",
    "before_after_unknown_pairing",
    "clopper_pearson_ci",
    "clopper_pearson_interval",
    "escalc",
    "exact_mcnemar_range",
    "exact_upper_bound",
    "logit_proportion",
    "mean_change",
    "parse_p_value",
    "recover_change_sd",
    "sd_change",
    "small_sample_correction",
    "smcc",
    "smcr",
    "smcr_sensitivity",
    "wilson_ci",
    "zero_event_upper_bound",
]
