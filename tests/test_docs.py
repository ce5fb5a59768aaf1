"""Docs that tests keep honest: every command and every setting is documented."""

from __future__ import annotations

import re

import click

from digest.cli import main
from digest.config import Settings, example_toml, iter_settings, load_settings


def _commands(group: click.Group, prefix: str = "digest") -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out += _commands(cmd, full)
    return out


def _docs_text(repo_root) -> str:
    parts = [(repo_root / "README.md").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted((repo_root / "docs").glob("*.md"))]
    return "\n".join(parts)


def test_example_settings_file_is_current(repo_root):
    shipped = (repo_root / "digest.example.toml").read_text(encoding="utf-8")
    assert shipped == example_toml(), "digest.example.toml is stale: run `digest config --example > digest.example.toml`"


def test_example_settings_file_loads_to_the_defaults(repo_root):
    loaded = load_settings(repo_root / "digest.example.toml", environ={})
    defaults = Settings()
    for section, name, _ in iter_settings():
        assert getattr(getattr(loaded, section), name) == getattr(getattr(defaults, section), name), f"{section}.{name}"


def test_every_setting_has_a_doc_line():
    for section, name, f in iter_settings():
        assert f.metadata.get("doc", "").strip(), f"{section}.{name} has no doc line"


def test_every_command_is_documented(repo_root):
    text = _docs_text(repo_root)
    missing = [c for c in _commands(main) if not re.search(re.escape(c) + r"\b", text)]
    assert not missing, f"commands not mentioned in README.md or docs/*.md: {missing}"


def test_every_command_has_help():
    for name in _commands(main):
        parts = name.split()[1:]
        cmd: click.Command = main
        for p in parts:
            cmd = cmd.commands[p]  # type: ignore[attr-defined]
        assert (cmd.help or "").strip(), f"`{name}` has no --help text"


# Module paths named in the docs: `digest.a.b.name` (a module, or a name in one) and `digest/a/b.py` files.
_DOTTED = re.compile(r"\bdigest(?:\.[a-z_][a-z0-9_]*)+")
_FILE = re.compile(r"\bdigest/[a-z_/]+(?:\.py|/)")


def test_every_module_path_in_the_docs_exists(repo_root):
    import importlib

    text = _docs_text(repo_root)
    missing = []
    for dotted in sorted(set(_DOTTED.findall(text)) - {"digest.toml", "digest.example.toml"}):
        parts = dotted.split(".")
        for cut in range(len(parts), 1, -1):  # the longest importable prefix, then the rest as attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(dotted)
            break
        else:
            missing.append(dotted)
    for path in sorted(set(_FILE.findall(text))):
        if not (repo_root / "src" / path).exists():
            missing.append(path)
    assert not missing, f"module paths in README.md or docs/*.md that do not exist: {missing}"
