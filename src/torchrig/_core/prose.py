"""Whether a statement in someone's prose states a fact, or only a condition, a wish or a question about one.

People paste the doctor's evidence inside their own sentences, and so do the answers they quote: "torch.cuda.is_available()
is False" states an answer; "if torch.cuda.is_available() is False, reinstall" states none. The readers that take
facts from prose ask :func:`governed` whether a word that takes the statement out of fact stands before it in its
own sentence (or line), within a few dozen characters. Each reader passes the words that matter for what it reads,
starting from :data:`CONDITION`.
"""

from __future__ import annotations

import re

# The words that open a condition, in English and Chinese ("如果", "若": if). Not "when": "when I run it, it prints
# False" tells what happened.
CONDITION_WORDS = r"\b(?:if|unless|whether|in case)\b|如果|若"
CONDITION = re.compile(CONDITION_WORDS, re.IGNORECASE)
# The end of a sentence: a full stop, a question or exclamation mark (ASCII or CJK) before a blank or the end, or a
# blank line.
_SENTENCE_END = re.compile(r"[.!?。！？](?:\s|$)|\n[ \t]*\n")


def governed(
    text: str, at: int, words: re.Pattern[str] = CONDITION, *, look_back: int = 80, line: bool = False
) -> bool:
    """A match of ``words`` stands before position ``at`` of ``text``, in its sentence (with ``line``, its line) and
    within ``look_back`` characters."""
    low = max(0, at - look_back)
    if line:
        begin = text.rfind("\n", low, at) + 1 or low
    else:
        begin = max((m.end() for m in _SENTENCE_END.finditer(text, low, at)), default=low)
    return words.search(text, begin, at) is not None
