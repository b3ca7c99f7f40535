"""The evidence behind the near-duplicate rule: typo twins against templated prompts.

Typo twins: every one-character edit (each position dropped, swapped with the next, replaced, and a
letter inserted) of the sample's prompts of 40+ characters. Templates: families of prompts that
differ in one slot (a country, an animal, a number), which must stay apart. For each, the Jaccard
similarity of character 5-grams (the measure before this change) and what the rule decides.

    uv run python -m benchmarks.near_duplicates
"""

import itertools
import statistics

from tasks.filter.near_duplicates import TYPO_MIN_CHARS, lsh_shape, near_duplicates, similarity
from tasks.source.load import load_aya

COUNTRIES = ["France", "Spain", "Germany", "Italy", "Portugal", "Poland", "Greece", "Norway", "Sweden", "Finland",
             "Denmark", "Austria", "Belgium", "Hungary", "Romania", "Bulgaria", "Croatia", "Estonia", "Latvia",
             "Lithuania", "Slovakia", "Slovenia", "Cyprus", "Malta"]  # fmt: skip
ANIMALS = [
    "cat",
    "dog",
    "horse",
    "cow",
    "goat",
    "sheep",
    "duck",
    "goose",
    "fox",
    "hare",
    "owl",
    "frog",
    "mouse",
]
TEMPLATES = {
    "What is the capital of X?": [f"What is the capital of {c}?" for c in COUNTRIES],
    "What is the capital city of X, and what is it known for?": [
        f"What is the capital city of {c}, and what is it known for?" for c in COUNTRIES
    ],
    "Wat is de hoofdstad van X en hoeveel mensen wonen daar?": [
        f"Wat is de hoofdstad van {c} en hoeveel mensen wonen daar?" for c in COUNTRIES
    ],
    "Write a short poem about a X for a child ...": [
        f"Write a short poem about a {a} for a child who is learning to read." for a in ANIMALS
    ],
    "Please calculate A times B and show every step ...": [
        f"Please calculate {a} times {b} and show every step of your working."
        for a, b in itertools.product((12, 13, 21, 112), (47, 48, 74))
    ],
}


def one_edits(text: str) -> list[str]:
    edits = []
    for i in range(len(text)):
        edits.append(text[:i] + text[i + 1 :])
        edits.append(text[:i] + ("x" if text[i] != "x" else "y") + text[i + 1 :])
        edits.append(text[:i] + "e" + text[i:])
        if i + 1 < len(text):
            edits.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    return [edit for edit in edits if edit != text]


def main() -> None:
    prompts = [p.strip() for p in load_aya("sample")["inputs"].drop_nulls() if 40 <= len(p.strip()) <= 400]
    prompts = list(dict.fromkeys(prompts))
    jaccards, caught, twins = [], 0, 0
    for prompt in prompts:
        for twin in one_edits(prompt):
            twins += 1
            jaccards.append(similarity(prompt, twin))
            caught += near_duplicates([prompt, twin], 0.9)[1]
    under = sum(j < 0.9 for j in jaccards)
    print(f"typo twins: {twins:,} one-character edits of {len(prompts)} sample prompts of 40-400 characters")
    print(f"  Jaccard of 5-grams: min {min(jaccards):.2f}, median {statistics.median(jaccards):.2f}; "
          f"{under:,} ({under / twins:.0%}) under 0.9")  # fmt: skip
    print(
        f"  caught by the rule (Jaccard >= 0.9 or one typo at {TYPO_MIN_CHARS}+ characters): {caught / twins:.1%}"
    )
    print("templated prompts (pairs within a family):")
    for name, family in TEMPLATES.items():
        pairs = list(itertools.combinations(family, 2))
        highest = max(similarity(a, b) for a, b in pairs)
        merged = sum(near_duplicates(family, 0.9))
        above_min_twin = sum(similarity(a, b) >= min(jaccards) for a, b in pairs)
        print(f"  {name!r}: {len(pairs)} pairs, highest Jaccard {highest:.2f}, "
              f"{above_min_twin} at or above the lowest typo twin's, dropped by the rule: {merged}")  # fmt: skip
    bands, rows = lsh_shape(0.9)
    print(f"LSH at 0.9: {bands} bands x {rows} rows; a pair becomes a candidate with probability")
    for value in (0.85, 0.9, 0.95, 0.98):
        mine = 1 - (1 - value**rows) ** bands
        before = 1 - (1 - value**25) ** 5  # datasketch MinHashLSH(threshold=0.9, num_perm=128)
        print(f"  Jaccard {value:.2f}: {mine:.2f} (datasketch before: {before:.2f})")


if __name__ == "__main__":
    main()
