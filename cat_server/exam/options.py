"""Each candidate's own option order (shuffle_options): the labels shown, the bank's letters kept."""

from __future__ import annotations

import numpy as np

from ..models import Attempt, ExamSection
from .catalog import cached_item, public_item


def option_order(attempt: Attempt, item_id: int) -> list[int]:
    """The bank indices of the item's options in the order this attempt shows them."""
    n = len(cached_item(item_id).options)
    return [int(j) for j in np.random.default_rng([attempt.seed, item_id, 1]).permutation(n)]


def shown_item(attempt: Attempt, section: ExamSection, item_id: int) -> dict:
    """The public item as this attempt sees it: options in its own order, labelled A.. again."""
    public = public_item(item_id)
    if not section.shuffle_options:
        return public
    options = public["options"]
    return {
        **public,
        "options": [
            {"label": chr(ord("A") + k), "text": options[j]["text"]}
            for k, j in enumerate(option_order(attempt, item_id))
        ],
    }


def bank_choice(attempt: Attempt, section: ExamSection, item_id: int, label: str) -> str:
    """The bank's letter of the option shown as ``label`` (unknown labels stay as they are)."""
    if not section.shuffle_options:
        return label
    order = option_order(attempt, item_id)
    index = ord(label) - ord("A")
    return chr(ord("A") + order[index]) if index < len(order) else label


def shown_choice(attempt: Attempt, section: ExamSection, item_id: int, choice: str) -> str:
    """The label this attempt sees for the bank's option ``choice``."""
    if not section.shuffle_options:
        return choice
    return chr(ord("A") + option_order(attempt, item_id).index(ord(choice) - ord("A")))
