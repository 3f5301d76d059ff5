"""Code shared by the test modules (tests/ is on ``sys.path``, see tests/conftest.py): synthetic
tidy tables (:mod:`helpers.tables`), workflow runs in copies of the repository
(:mod:`helpers.workflow`), the command line as a child process (:mod:`helpers.cli`) and the
network guard of the end-to-end tests (:mod:`helpers.guard`)."""
