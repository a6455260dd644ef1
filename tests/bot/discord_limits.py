"""Discord's limits on a message (content, embeds, components), as the fake Discord enforces them.

Content 2,000 characters; 10 embeds, each with a title of 256, a description of 4,096, a footer of
2,048, at most 25 non-empty fields (name 256, value 1,024) and 6,000 characters in all; 5 rows of 5
components, custom_id 100, label 80. Discord counts characters in UTF-16 units.
"""

from __future__ import annotations

from typing import Any


def check_message(data: dict[str, Any]) -> list[str]:
    """What in a message body breaks Discord's limits (empty when nothing does)."""
    problems: list[str] = []

    def n(text: Any) -> int:  # Discord counts characters; UTF-16 units are never fewer
        return len(str(text).encode("utf-16-le")) // 2

    if n(data.get("content") or "") > 2000:
        problems.append("content > 2000")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            if n(e.get(key, "")) > limit:
                problems.append(f"embeds[{i}].{key} > {limit}")
            total += n(e.get(key, ""))
        footer = (e.get("footer") or {}).get("text", "")
        total += n(footer) + n((e.get("author") or {}).get("name", ""))
        if n(footer) > 2048:
            problems.append(f"embeds[{i}].footer > 2048")
        fields = e.get("fields") or []
        if len(fields) > 25:
            problems.append(f"embeds[{i}] has {len(fields)} fields")
        for j, f in enumerate(fields):
            name, value = f.get("name", ""), f.get("value", "")
            if not str(name).strip() or not str(value).strip():
                problems.append(f"embeds[{i}].fields[{j}] empty")
            if n(name) > 256:
                problems.append(f"embeds[{i}].fields[{j}].name > 256")
            if n(value) > 1024:
                problems.append(f"embeds[{i}].fields[{j}].value > 1024")
            total += n(name) + n(value)
    if total > 6000:
        problems.append(f"embeds total {total} > 6000")
    rows = data.get("components") or []
    if len(rows) > 5:
        problems.append("more than 5 action rows")
    for row in rows:
        items = row.get("components") or []
        if len(items) > 5:
            problems.append("more than 5 components in a row")
        for item in items:
            if len(item.get("custom_id") or "") > 100 or n(item.get("label") or "") > 80:
                problems.append("component custom_id > 100 or label > 80")
    return problems
