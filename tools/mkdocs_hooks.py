"""mkdocs hooks: the reference pages written from the code, so they cannot drift from it.

A page asks for a generated block with a marker on a line of its own:

* ``<!-- reference:cli -->`` — every ``peergrid`` command, its arguments and options, from the
  command tree the CLI builds (typer on click);
* ``<!-- reference:scenario -->`` — every scenario field with its type, default and meaning
  (unit and bounds are in the meaning), from the pydantic schema;
* ``<!-- reference:mechanisms -->`` — the clearing mechanisms and their parameters, from the
  registry;
* ``<!-- reference:feeders -->`` — the feeder catalogue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

MARKER = "<!-- reference:{} -->"


def on_page_markdown(markdown: str, **_: Any) -> str:
    for name, render in GENERATORS.items():
        marker = MARKER.format(name)
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown


# --- the command line -------------------------------------------------------------------------


def _cli() -> str:
    import typer

    from peergrid.cli.main import app

    root = typer.main.get_command(app)
    return "\n".join(_command_sections(root, ["peergrid"]))


def _command_sections(command: Any, path: list[str]) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if path != ["peergrid"] or not subcommands:
        yield from _one_command(command, path)
    for name in sorted(subcommands or {}):
        sub = subcommands[name]
        if getattr(sub, "hidden", False):
            continue
        yield from _command_sections(sub, [*path, name])


def _one_command(command: Any, path: list[str]) -> Iterator[str]:
    yield f"## `{' '.join(path)}`\n"
    help_text = (command.help or "").strip()
    if help_text:
        yield _plain(help_text) + "\n"
    if getattr(command, "commands", None):
        names = ", ".join(f"`{n}`" for n in sorted(command.commands))
        yield f"Commands: {names}.\n"
        return
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        rows.append(_param_row(param))
    if rows:
        yield "| argument or option | type | default | meaning |"
        yield "|---|---|---|---|"
        yield from rows
        yield ""


def _param_row(param: Any) -> str:
    if param.param_type_name == "argument":
        name = f"`{param.metavar or param.name.upper()}`"
        if not param.required:
            name += " (optional)"
    else:
        name = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    if getattr(param, "is_flag", False):
        kind = "flag"
    else:
        kind = f"`{param.metavar}`" if param.metavar and param.metavar != name else ""
        if not kind:
            kind = _type_name(param.type_descriptor.annotation)
    default = param.default
    shown = ""
    if not (default is None or param.required or callable(default) or default is False):
        shown = f"`{default}`"
    meaning = _plain(getattr(param, "help", None) or "")
    return f"| {name} | {kind} | {shown} | {_cell(meaning)} |"


# --- the scenario file ------------------------------------------------------------------------


def _scenario() -> str:
    from pydantic import BaseModel

    from peergrid.sim.scenario import Scenario

    lines = ["## Top level\n", "| field | type | default | meaning |", "|---|---|---|---|"]
    sections: list[tuple[str, type[BaseModel]]] = []
    for name, field in Scenario.model_fields.items():
        model = _section_model(field.annotation)
        if model is not None:
            sections.append((f"[{name}]", model))
            continue
        lines.append(_field_row(name, field))
    lines.append("")
    while sections:
        title, model = sections.pop(0)
        lines += [f"## `{title}`\n", "| field | type | default | meaning |", "|---|---|---|---|"]
        nested: list[tuple[str, type[BaseModel]]] = []
        for n, f in model.model_fields.items():
            lines.append(_field_row(n, f))
            inner = _section_model(f.annotation, lists=True)
            if inner is not None:
                # an optional sub-section ([a.b]) or a list of tables ([[a.b]])
                many = "tuple" in str(f.annotation)
                path = title.strip("[]")
                nested.append((f"[[{path}.{n}]]" if many else f"[{path}.{n}]", inner))
        lines.append("")
        sections[:0] = nested
    return "\n".join(lines)


def _section_model(annotation: Any, *, lists: bool = False) -> Any:
    """The section model an annotation holds: ``Model``, ``Model | None`` (an optional section)
    or, with ``lists``, ``tuple[Model, ...]`` (a list of tables)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if "tuple" in str(annotation) and not lists:
        return None
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if len(models) == 1 else None


def _field_row(name: str, field: Any) -> str:
    kind = _type_name(field.annotation)
    default = field.default_factory() if field.default_factory is not None else field.default
    shown = "none" if default is None else json.dumps(_jsonable(default), ensure_ascii=False)
    if field.is_required():
        shown = "required"
    return f"| `{name}` | {kind} | `{shown}` | {_cell(field.description or '')} |"


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = str(annotation) if "[" in str(annotation) else text
    for prefix in ("typing.", "datetime."):
        text = text.replace(prefix, "")
    text = re.sub(r"peergrid\.[\w.]+\.(\w+)", r"\1", text)  # a sub-section: its model's name
    return f"`{text.replace('NoneType', 'None')}`"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# --- mechanisms and feeders -------------------------------------------------------------------


def _mechanisms() -> str:
    from peergrid.mechanisms.registry import MECHANISMS

    lines = []
    for name in sorted(MECHANISMS):
        spec = MECHANISMS[name]
        lines.append(f"### `{name}`\n")
        lines.append(_plain(spec.summary) + "\n")
        if spec.parameters:
            lines += ["| parameter | unit | default | meaning |", "|---|---|---|---|"]
            for p in spec.parameters:
                lines.append(f"| `{p.name}` | {p.unit} | `{p.default}` | {_cell(p.description)} |")
            lines.append("")
    return "\n".join(lines)


def _feeders() -> str:
    from peergrid.grid.feeders import list_feeders

    lines = ["| feeder | description |", "|---|---|"]
    for entry in list_feeders():
        lines.append(f"| `{entry.name}` | {_cell(entry.description)} |")
    return "\n".join(lines) + "\n"


# --- text -------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Help text as Markdown: typer's and rich's markup removed, paragraphs kept."""
    for tag in ("[bold]", "[/bold]", "[dim]", "[/dim]", "[/]"):
        text = text.replace(tag, "")
    return text.replace("\b\n", "")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": _cli,
    "scenario": _scenario,
    "mechanisms": _mechanisms,
    "feeders": _feeders,
}
