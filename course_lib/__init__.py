"""course_lib: the library behind the executable deep-learning course.

Every chapter imports it; each public function's docstring names the chapter that explains it.
"""

__version__ = "0.1.0"
