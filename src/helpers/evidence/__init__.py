"""Evidence in: raw sources, extraction sheets, consistency checks, ingestion into ``data/processed/``."""
