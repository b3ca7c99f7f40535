"""YAML mistakes in plain words: where the mistake really is (line and column) and what to do.

PyYAML reports where the parser gave up (`expected <block end>, but found '<scalar>'`), which for an
unclosed quote or bracket is the end of the file. Contributors mostly trip over apostrophes inside
single quotes (common in Kinyarwanda: `w'ingirakamaro`), tabs, and colons inside values.
"""

from __future__ import annotations

import re

import yaml

KIND_OF = {list: "a list", str: "plain text", int: "a number", float: "a number", bool: "true/false"}


def _runaway_quote(text: str, mark: yaml.Mark) -> tuple[str, yaml.Mark] | None:
    """The quote and start of a quoted text that ends right before `mark` but began on an earlier line."""
    ended = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                break
            if isinstance(token, yaml.ScalarToken):
                ended = token
    except yaml.YAMLError:
        pass
    if ended is None or ended.style not in ("'", '"') or ended.start_mark.line == mark.line:
        return None
    return ended.style, ended.start_mark


def explain(text: str, exc: yaml.YAMLError) -> str:
    """Where a YAML syntax error really is (line and column) and what to do about it, in plain words."""
    problem = str(getattr(exc, "problem", "") or exc)
    context = str(getattr(exc, "context", "") or "")
    mark = getattr(exc, "problem_mark", None)
    # An unclosed quote or bracket is only noticed at the end of the file: point at where it opened.
    if "quoted scalar" in context or "flow" in context:
        mark = getattr(exc, "context_mark", None) or mark
    lines = text.splitlines()
    line_text = lines[mark.line] if mark and mark.line < len(lines) else ""
    before = line_text[: mark.column] if mark else ""
    # Text right after a closing quote: the quote was meant as part of the text.
    ended_early = "but found" in problem
    tab = re.search(r"^ *\t", text, re.MULTILINE)
    if "\t" in problem or tab:
        hint = "a tab in the indentation; YAML indents with spaces only"
        if tab and "\t" not in problem:  # the parser tripped later: point at the tab itself
            line = text.count("\n", 0, tab.start())
            mark = yaml.Mark("", tab.end() - 1, line, len(tab.group()) - 1, None, None)
    elif "quoted scalar" in context:
        quote = line_text[mark.column] if mark and mark.column < len(line_text) else "quote"
        hint = f"the {quote} opened here is never closed"
    elif "flow" in context:
        hint = "a [ or { opened here is never closed"
    elif ended_early and mark is not None and (runaway := _runaway_quote(text, mark)) is not None:
        quote, opened = runaway
        hint = (
            f"the {quote} opened here is only closed on line {mark.line + 1}, so the lines between run "
            f"together as one text; close it on line {opened.line + 1}"
        )
        mark = opened
    elif ended_early and before.rstrip().endswith("'"):
        hint = (
            "an apostrophe inside '...' ends the text early; write it twice (w''ingirakamaro) "
            'or put the whole text in "double quotes"'
        )
    elif ended_early and before.rstrip().endswith('"'):
        hint = (
            'a " inside "..." ends the text early; write it as \\" or put the whole text in \'single quotes\''
        )
    elif "mapping values are not allowed" in problem:
        hint = (
            "a ': ' inside a value, or a line indented deeper than the keys around it; "
            "put the value in quotes or fix the indentation"
        )
    elif "block end" in problem or "indentation" in problem:
        hint = "the indentation does not line up with the keys around it"
    else:
        hint = f"{problem}; check the quotes and indentation"
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
    return f"not valid YAML at {where}: {hint}"
