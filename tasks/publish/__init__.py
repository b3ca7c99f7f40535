"""Stage 8: dataset repos and their cards, written to a local folder laid out like the Hub or pushed to it."""
