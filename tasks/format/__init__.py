"""Stage 7: the raw, curated DPO and KTO views, rebuilt from the published rows plus the run's new ones."""
