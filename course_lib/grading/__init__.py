"""Everything for instructors: student notebooks, the class grader, the guide's tables.

* :mod:`.chapter` reads a chapter's exercises (heading, points, goal, answers, checker);
* :mod:`.student` makes the student notebook of a chapter (``scripts/notebooks.py``);
* ``python -m course_lib.grading SUBMISSIONS_DIR`` grades a class (:mod:`.batch`, one
  :mod:`.worker` process per notebook, :mod:`.run` for one notebook, :mod:`.assemble` for
  what it runs, :mod:`.remote` and :mod:`.kernel_side` for the checks across the kernel
  boundary, :mod:`.report` for grades.csv and the feedback files);
* :mod:`.guide` writes the generated sections of the instructor's guide.

Explained in the instructor's guide (book/instructors.md).
"""
