"""The examples of docs/mechanisms.md run as written."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_mechanism_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs/mechanisms.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL))
    assert "class Kdr(dx.Mechanism)" in code
    exec(compile(code, "docs/mechanisms.md", "exec"), {"__name__": "__docs__"})
