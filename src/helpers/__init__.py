"""Helpers for the cell-therapy evidence synthesis: every piece of logic the notebooks call.

Modules, one concern each: ``paths`` (where things live), ``sources`` (raw documents),
``extraction`` (sheet schema), ``checks`` (consistency checks), ``ingest`` (processed tables),
``data`` (typed loaders), ``effects`` (effect sizes), ``meta`` (pooling), ``plots``, ``report``,
``pipeline`` (regeneration).
"""

__version__ = "0.1.0"
