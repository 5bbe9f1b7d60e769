"""The generated parts of the instructor's guide, as MyST Markdown, from the chapters.

``_ext/instructors_guide.py`` turns these into the guide's sections at every build, so a
new chapter appears there as soon as it is in ``_toc.yml``: what it teaches and needs, its
exercises with their points and goals, the mistakes each checker recognises (read from
the checker's own ``raise Wrong(...)`` messages), its run time under the ``ci`` profile
(read from the execution metadata of ``notebooks/<stem>.ipynb``), and the links for
handing it out. Explained in the instructor's guide.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .chapter import Exercise, parse_exercises

ROLE_DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([\w/.-]+)>?`")
ROLE_REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([\w.:-]+)>?`")


@dataclass
class Chapter:
    """One chapter of the book as the guide sees it."""

    stem: str
    title: str
    summary: str
    needs: list[str]
    builds_on: list[str]
    sections: list[str]
    exercises: list[Exercise]
    labels: set[str]


def read_chapter(root: Path, stem: str) -> Chapter:
    """Read ``notebooks/student/<stem>.ipynb`` (the source without outputs) for the guide."""
    notebook = nbformat.read(root / "notebooks" / "student" / f"{stem}.ipynb", as_version=4)
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    text = "\n\n".join(markdown)
    title = next((line[2:].strip() for line in text.split("\n") if line.startswith("# ")), stem)
    intro = _overview(markdown)
    needs = [
        s for s in re.split(r"(?<=[.!?])\s+", " ".join(intro)) if s.startswith(("You need", "You should"))
    ]
    return Chapter(
        stem=stem,
        title=title,
        summary=next((p for p in intro if "{glue" not in p and not p.startswith("You need")), ""),
        needs=needs,
        builds_on=sorted(set(ROLE_DOC.findall(text))),
        sections=[m.group(1) for m in re.finditer(r"^## \d+\.\s+(.+)$", text, re.MULTILINE)],
        exercises=parse_exercises(notebook),
        labels=set(re.findall(r"^\(([\w.:-]+)\)=\s*$", text, re.MULTILINE)),
    )


def _overview(markdown: list[str]) -> list[str]:
    """The paragraphs of the ``## Overview`` section, else those under the title."""
    text = "\n\n".join(markdown)
    match = re.search(r"^## Overview\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    body = match.group(1) if match else text.split("\n# ", 1)[-1].split("\n", 1)[-1]
    body = re.split(r"^## ", body, maxsplit=1, flags=re.MULTILINE)[0]
    paragraphs = [" ".join(p.split()) for p in body.split("\n\n")]
    return [p for p in paragraphs if p and not p.startswith(("**Exercises notebook.**", "#", "```", ":::"))]


def mistakes(module: str, checker: str) -> list[str]:
    """The mistakes a checker recognises, from its own ``raise Wrong(...)`` messages.

    Helpers of the same module that the checker calls are read too (one level deep).
    Messages about the type or shape of an answer ("expected a torch.Tensor, got ...")
    are left out: every checker has them.
    """
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if checker not in functions:
        return []
    calls = [n for n in ast.walk(functions[checker]) if isinstance(n, ast.Call)]
    called = {n.func.id for n in calls if isinstance(n.func, ast.Name)}
    found = []
    for name in [checker] + sorted(called & functions.keys()):
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                if getattr(node.exc.func, "id", "") == "Wrong":
                    text = _clause(_template(node.exc.args[0]))
                    if text and not GENERIC.search(text) and text not in found:
                        found.append(text)
    return found


GENERIC = re.compile(r"^(… ?:? ?)?(expected (a|an|shape)\b|return |report a number|name the wrong)")


def _template(node) -> str:
    """The text of a string expression, with ``…`` where a value is formatted in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left) + _template(node.right)
    return "…"


def _clause(message: str) -> str:
    """The part of a checker message that names the mistake, before its advice."""
    message = " ".join(message.split())
    cuts = [message.find(sep, 20) for sep in (": ", ". ", "; ", " (")]
    cuts = [c for c in cuts if c > 0]
    if cuts:
        message = message[: min(cuts)]
    message = re.sub(r"…[.,]?…", "…", message).rstrip(".:; ")
    if message.startswith("… "):
        message = "the answer " + message[2:]
    return message.replace("|", "\\|")


def ci_seconds(notebook_path: Path) -> tuple[float, str] | None:
    """Seconds from the first cell's start to the last cell's end in a stored run, and its date."""
    notebook = nbformat.read(notebook_path, as_version=4)
    times = [c.metadata.get("execution", {}) for c in notebook.cells if c.cell_type == "code"]
    times = [t for t in times if "iopub.execute_input" in t and "shell.execute_reply" in t]
    if not times:
        return None
    start = dt.datetime.fromisoformat(times[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(times[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds(), start.date().isoformat()


def exercise_list(chapter: Chapter) -> str:
    """The exercises of a chapter as a Markdown list: points, goal, mistakes recognised."""
    items = []
    for e in chapter.exercises:
        # A link's text cannot hold backticks (rnn's "find the missing `.detach()`" broke it).
        text = f"{e.number}. {e.title.replace('`', '')}"
        name = f"{{ref}}`{text} <{e.label}>`" if e.label else f"{e.number}. {e.title}"
        if e.graded:
            head = f"- **{name}** ({e.points} points, checker `{e.call.name}`)."
            caught = mistakes(e.call.module, e.call.name)
            tail = f" It recognises: {'; '.join(caught)}." if caught else " It reports wrong values."
        else:
            head = f"- **{name}** (not graded: {e.kind or 'no checker'}; the solution is in the chapter)."
            tail = ""
        items.append(f"{head} *Goal:* {e.goal or '(none stated)'}{tail}")
    return "\n".join(items)


def chapter_section(chapter: Chapter, number: int, earlier: list[str], timing: str) -> str:
    """The guide's section on one chapter."""
    graded = [e for e in chapter.exercises if e.graded]
    total = sum(e.points or 0 for e in graded)
    builds_on = [f"{{doc}}`{s}`" for s in chapter.builds_on if s in earlier]
    parts = [f"### {number}. {{doc}}`{chapter.title} <{chapter.stem}>`", ""]
    if chapter.summary:
        parts += [chapter.summary, ""]
    if chapter.sections:
        parts += ["**Sections:** " + "; ".join(chapter.sections) + ".", ""]
    needs = " ".join(chapter.needs) or "Nothing beyond Python."
    parts += [
        f"**Prerequisites:** {needs} " + (f"Builds on {', '.join(builds_on)}." if builds_on else ""),
        "",
    ]
    parts += [f"**Run time:** {timing}", ""]
    parts += [f"**Exercises:** {len(graded)} graded, {total} points in all.", "", exercise_list(chapter), ""]
    return "\n".join(parts)
