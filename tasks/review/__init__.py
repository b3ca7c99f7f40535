"""Stage 9, review: judged pairs go to people, their votes come back and override the judge where they decide."""
