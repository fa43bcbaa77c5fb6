"""Static guarantees the code keeps: local binding, no remote code, no pickle, validated ids."""
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for p in list((ROOT / "idim_core").glob("*.py")) + list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]]


def test_server_listens_on_loopback_by_default():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_remote_code_no_pickle_no_unsafe_load(path):
    text = path.read_text()
    assert not re.search(r"trust_remote_code\s*=\s*True", text)
    assert not re.search(r"^\s*(import|from)\s+(pickle|dill|joblib)\b", text, re.M)
    for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
        assert "weights_only=True" in m.group(1)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_sql_values_are_parameters(path):
    """No SQL statement is built by formatting values into it (column names from a fixed list only)."""
    text = path.read_text()
    for m in re.finditer(r'execute\w*\(\s*f"([^"]*)"', text):
        # {sql} and {guard}: the guarded status changes, whose SET clause and status list are literals in
        # store.py (every value, the statuses included, is a ? parameter)
        assert "{cols}" in m.group(1) or "{table}" in m.group(1) or "{name}" in m.group(1) \
            or "SCHEMA_VERSION" in m.group(1) or "{sql}" in m.group(1), m.group(0)
    for m in re.finditer(r"self\._guarded\(run_id, (\S)", text):
        assert m.group(1) == '"', "the SET clause of a guarded change must be a string literal"


def test_run_ids_from_urls_are_validated():
    from idim_core.errors import UserError
    from idim_core.store import check_run_id

    for bad in ("1' OR '1'='1", "../idim.db", "<script>", "0123456789ab; DROP TABLE runs"):
        with pytest.raises(UserError):
            check_run_id(bad)
    assert "check_run_id" in (ROOT / "pages" / "live.py").read_text()
