"""The examples in README.md and the docs pages run as written."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [
    "README.md",
    "docs/simulation.md",
    "docs/morphology.md",
    "docs/networks.md",
    "docs/training.md",
]


def _python_blocks(page: str) -> str:
    text = (ROOT / page).read_text()
    return "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL))


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks(page)
    assert code, f"{page} has no python example"
    exec(compile(code, page, "exec"), {"__name__": "__docs__"})


def test_errors_page_shows_every_message_as_written(tmp_path, monkeypatch):
    """docs/errors.md runs its examples; each message they give is on the page verbatim."""
    monkeypatch.chdir(tmp_path)
    page = "docs/errors.md"
    namespace = {"__name__": "__docs__"}
    exec(compile(_python_blocks(page), page, "exec"), namespace)
    text = (ROOT / page).read_text()
    messages = namespace["messages"]
    assert len(messages) >= 30
    missing = [message for message in messages.values() if f"| `{message}` |" not in text]
    assert not missing, "\n".join(missing)
