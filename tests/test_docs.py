"""The examples in README.md and docs/simulation.md run as written."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = ["README.md", "docs/simulation.md", "docs/morphology.md"]


def _python_blocks(page: str) -> str:
    text = (ROOT / page).read_text()
    return "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL))


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks(page)
    assert code, f"{page} has no python example"
    exec(compile(code, page, "exec"), {"__name__": "__docs__"})
