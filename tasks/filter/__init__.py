"""Stage 2: keep a language's usable rows; every dropped row is counted with its reason."""
