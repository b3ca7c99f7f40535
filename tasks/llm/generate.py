"""Stage 4, generate: a second response to each Aya prompt with distilabel's `TextGeneration`.

The config's system prompt is written in the target language and asks for an answer in it; without
one, strong models often answer in English.
"""

from __future__ import annotations

from distilabel.models.llms import AsyncLLM
from distilabel.steps.tasks import TextGeneration

from languages.schema import Generation


class Generator:
    """One TextGeneration call per prompt, with the config's system prompt and sampling settings."""

    def __init__(self, llm: AsyncLLM, settings: Generation, recipe: str | None = None) -> None:
        self.llm = llm
        self.settings = settings
        # The fingerprint its answers are journaled and reused under (model, prompt, sampling).
        self.recipe = recipe
        self.task = TextGeneration(name="generate", llm=llm, system_prompt=settings.system_prompt)
        self.task.load()

    @property
    def model_name(self) -> str:
        return self.llm.model_name

    async def generate(self, instruction: str) -> tuple[str | None, dict]:
        """The model's answer (None when it returned nothing) and distilabel's token statistics."""
        row = {"instruction": instruction}
        output = await self.llm.agenerate(
            input=self.task.format_input(row),
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
        )
        text = output["generations"][0] if output["generations"] else None
        generation = self.task.format_output(text, row)["generation"]
        if generation is not None and not generation.strip():
            generation = None
        return generation, output.get("statistics", {})
