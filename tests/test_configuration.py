"""docs/configuration.md and ``Settings`` name the same settings, in the same groups, with the same defaults."""

from __future__ import annotations

import re
from pathlib import Path

from labelaudit.config import GROUPS, Settings, env_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^|]*) \|", re.M)


def _tables() -> dict[str, list[tuple[str, str]]]:
    """Rows of each group's table: ``{group: [(variable, default cell), ...]}``."""
    text = DOC.read_text()
    sections = re.split(r"^### .*\(`(\w+)`\)\s*$", text, flags=re.M)
    return {sections[i]: ROW.findall(sections[i + 1].split("\n## ")[0]) for i in range(1, len(sections), 2)}


def _number(cell: str) -> float | None:
    cell = cell.strip().strip("`").replace(",", "")
    try:
        return float(cell)
    except ValueError:
        return None


def test_every_setting_is_documented_in_its_group_in_order():
    tables = _tables()
    assert list(tables) == list(GROUPS)
    for group in GROUPS:
        fields = [env_name(n) for n, f in Settings.model_fields.items() if f.json_schema_extra["group"] == group]
        assert [name for name, _ in tables[group]] == fields, group


def test_documented_defaults_are_the_real_ones():
    rows = {name: cell for table in _tables().values() for name, cell in table}
    for name, field in Settings.model_fields.items():
        cell, default = rows[env_name(name)], field.default
        if isinstance(default, bool) or default is None:
            continue
        if isinstance(default, (int, float)):
            assert _number(cell) == default, (name, cell, default)
        else:
            assert cell.strip() == f"`{default}`", (name, cell, default)


def test_no_dead_or_renamed_settings_remain():
    text = DOC.read_text() + (DOC.parents[1] / "README.md").read_text()
    for gone in ("LABELAUDIT_REQUIRE_API_KEY", "LABELAUDIT_DEFAULT_FOLDS", "LABELAUDIT_DEFAULT_SEED"):
        assert gone not in text
    assert {"default_folds", "default_seed"}.isdisjoint(Settings.model_fields)
