"""Statistics: effect sizes (metafor's ``escalc`` vocabulary), pooling (``rma``), per-trial estimates, GRADE and the synthesis analyses."""
