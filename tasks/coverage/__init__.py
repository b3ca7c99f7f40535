"""The coverage report: one row per Aya language, published as a dataset and a dashboard page."""
