"""Block Kit as one line of plain text: how the emulator's transcript (and the demo) shows a
message, a modal or a Home tab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text_of(obj: Any) -> str:
    """The text of a text object, or of a plain string."""
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _element_text(element: Mapping[str, Any]) -> str:
    """A block element as plain text; buttons as [label]."""
    if element.get("type") == "button":
        return f"[{text_of(element.get('text'))}]"
    if element.get("type") == "image":
        return str(element.get("alt_text", ""))
    if "placeholder" in element:
        return f"[{text_of(element.get('placeholder'))}]"
    return text_of(element)


def render_blocks(blocks: list[Any] | None) -> str:
    """Block Kit blocks as one line of plain text: texts, fields, context, header, [buttons]."""
    parts: list[str] = []
    for block in blocks or []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind in ("section", "header") and block.get("text"):
            parts.append(text_of(block["text"]))
        if kind == "section":
            parts.extend(text_of(f) for f in block.get("fields", []))
            if isinstance(block.get("accessory"), Mapping):
                parts.append(_element_text(block["accessory"]))
        elif kind in ("context", "actions"):
            parts.append(" ".join(_element_text(e) for e in block.get("elements", [])))
        elif kind == "input":
            parts.append(
                f"{text_of(block.get('label'))}: {_element_text(block.get('element', {}))}"
            )
    return " | ".join(p.replace("\n", " / ") for p in parts if p)
