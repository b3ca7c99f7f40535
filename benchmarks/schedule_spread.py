"""How evenly the code-derived schedule slots (`languages/slots.py`) spread languages over the week.

    uv run python -m benchmarks.schedule_spread

Prints the spread for the 70 languages of Aya's card, for every language an offline language-ID model
knows, and for the configs in `languages/` if their crons were re-derived (`deployments --reslot`).
"""

import json

import langcodes

from languages.langid import OFFLINE_MODELS, model_labels
from languages.schema import available_languages
from languages.slots import AYA_CARD_CODES, spread


def offline_model_codes() -> set[str]:
    """ISO 639-3 codes of every language lid.176, CLD3 or langid.py can predict."""
    codes = set()
    for model in OFFLINE_MODELS:
        for label in model_labels(model):
            code = langcodes.get(label).to_alpha3()
            if len(code) == 3 and code.isalpha():
                codes.add(code)
    return codes


def main() -> None:
    sets = {
        "Aya card languages": set(AYA_CARD_CODES),
        "Aya + offline-model languages": set(AYA_CARD_CODES) | offline_model_codes(),
        "configs in languages/": set(available_languages()),
    }
    for title, codes in sets.items():
        print(f"{title}: {json.dumps(spread(sorted(codes)), ensure_ascii=False)}")


if __name__ == "__main__":
    main()
