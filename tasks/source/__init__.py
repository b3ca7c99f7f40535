"""Stage 1: read Aya (the Hub, a local file or the shipped sample) and split it by language code."""
