"""The generated sections of the instructor's guide (book/instructors.md).

Two directives, both written out from the chapters at every build, so a chapter added to
``_toc.yml`` appears in the guide without anyone typing it in:

* ``course-chapters``: per chapter, what it teaches and needs, its run time and its
  exercises with points, goals and the mistakes each checker recognises
  (course_lib.grading.guide);
* ``course-handout``: per chapter, the Colab links of the student and the solved notebook
  and the files to hand out.

A run time "of this build" is only known once every chapter has executed, so the
directive leaves a placeholder that a post-transform fills in from myst-nb's execution
data (the data behind myst-nb's ``nb-exec-table``).
"""

from pathlib import Path

import yaml
from colab_notebooks import STUDENT, colab_link
from docutils import nodes
from docutils.statemachine import StringList
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from course_lib.config import get_profile
from course_lib.grading.guide import chapter_section, ci_seconds, read_chapter

PLACEHOLDER = "BUILD-RUNTIME-OF-"


def chapter_stems(srcdir):
    """The chapters of ``_toc.yml`` that have a student notebook, in book order."""
    toc = yaml.safe_load(Path(srcdir, "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for entry in toc.get("chapters", [])]
    stems = [f.rpartition("/")[2] for f in files if f.startswith("book/")]
    return [s for s in stems if Path(srcdir, STUDENT, f"{s}.ipynb").is_file()]


class GeneratedMarkdown(SphinxDirective):
    """A directive whose content is MyST Markdown computed at build time."""

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self):
        container = nodes.container()
        lines = StringList(self.markdown().split("\n"), source=self.env.docname)
        self.state.nested_parse(lines, self.content_offset, container)
        return container.children


class CourseChapters(GeneratedMarkdown):
    def markdown(self) -> str:
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, "has_exec_table", True)
        srcdir, profile = Path(self.env.srcdir), get_profile().name
        stems, parts = chapter_stems(srcdir), []
        for number, stem in enumerate(stems, start=1):
            self.env.note_dependency(str(srcdir / STUDENT / f"{stem}.ipynb"))
            measured = ci_seconds(srcdir / "notebooks" / f"{stem}.ipynb")
            ci = "not run"
            if measured:
                ci = f"{measured[0]:.0f} s (the run stored in `notebooks/{stem}.ipynb`, {measured[1]})"
            timing = (
                f"`ci`: {ci}; this build (`{profile}` profile): {PLACEHOLDER}{stem}; `gpu`: not measured "
                "on a GPU yet, so only the profile's budget applies (a target, see {doc}`setup`)."
            )
            parts.append(chapter_section(read_chapter(srcdir, stem), number, stems[: number - 1], timing))
        return "\n".join(parts)


class CourseHandout(GeneratedMarkdown):
    def markdown(self) -> str:
        app = self.env.app
        rows = ["| chapter | exercises (student notebook) | solved notebook |", "|---|---|---|"]
        for stem in chapter_stems(self.env.srcdir):
            student, solved = colab_link(app, stem, STUDENT), colab_link(app, stem)
            rows.append(
                f"| {{doc}}`{stem}` | [Colab]({student}), `{STUDENT}/{stem}.ipynb` | "
                f"[Colab]({solved}), `notebooks/{stem}.ipynb` |"
            )
        return "\n".join(rows)


class FillBuildRuntimes(SphinxPostTransform):
    """Replace the run-time placeholders with this build's execution times."""

    default_priority = 8

    def run(self, **kwargs):
        data = NbMetadataCollector.get_doc_data(self.env)
        for text in list(self.document.findall(nodes.Text)):
            if PLACEHOLDER in text:
                stem = str(text).split(PLACEHOLDER, 1)[1].split(";")[0].split()[0]
                runtime = data.get(f"book/{stem}", {}).get("exec_data", {}).get("runtime")
                shown = f"{runtime:.0f} s" if runtime is not None else "not executed"
                text.parent.replace(text, nodes.Text(str(text).replace(f"{PLACEHOLDER}{stem}", shown)))


def setup(app):
    app.add_directive("course-chapters", CourseChapters)
    app.add_directive("course-handout", CourseHandout)
    app.add_post_transform(FillBuildRuntimes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
