"""Execute the chapters during the book build the way every runner of this project does.

myst-nb executes each chapter with nbclient inside the Sphinx process. This extension
installs course_lib.execution's wake-up fix there (the same one ``make notebooks``, the
stall probe and the grader use) and sets the per-cell timeout to the ``cell_timeout`` of
the profile the build runs under, so a cell that hangs, for whatever reason, fails the
build within that time with the cell's source in the error. The kernels it starts see
COURSE_STATIC_OUTPUT=1 (course_lib._book.on_static_site): their outputs become static pages,
so chapters show static figures and no live widgets or progress bars there.
"""

import os

from course_lib._book import STATIC_OUTPUT_ENV
from course_lib.config import get_profile
from course_lib.execution import install_shell_wakeup


def use_profile_timeout(app, config):
    """``config-inited`` handler: the profile decides how long one cell may run."""
    config.nb_execution_timeout = get_profile().cell_timeout


def setup(app):
    install_shell_wakeup()
    os.environ[STATIC_OUTPUT_ENV] = "1"  # inherited by every kernel myst-nb starts
    app.connect("config-inited", use_profile_timeout)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
