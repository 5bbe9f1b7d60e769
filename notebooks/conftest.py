"""pytest --nbval notebooks: skip the student notebooks (no outputs to compare).

They are checked by tests/test_student_notebooks.py instead (run to the end under ci).
"""

collect_ignore = ["student"]
