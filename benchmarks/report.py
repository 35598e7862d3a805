"""How every benchmark answers: one JSON object on the last line of stdout (--json), or the same keys as a table."""

from __future__ import annotations

import json


def emit(result: dict, as_json: bool, skip: tuple[str, ...] = ()) -> None:
    """Print `result`: one JSON line, or one `key: value` line per entry (`skip`: keys too long for a table)."""
    if as_json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result) + 2
    for key, value in result.items():
        if key not in skip:
            print(f"{key:>{width}}: {value}")
