"""pytest --nbval notebooks: the student notebooks have no outputs to compare, so skip them.

They are checked by tests/test_student_notebooks.py instead (run to the end under ci).
"""

collect_ignore = ["student"]
