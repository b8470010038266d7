"""Hooks into other people's programs: SQLAlchemy engines and IPython/Jupyter.

Both must never break the program they hook into: every listener catches its own failures, and
describing happens off the query's hot path. Import the submodule you need:

>>> from sql2nl.integrations.sqlalchemy import instrument   # doctest: +SKIP
>>> %load_ext sql2nl                                        # doctest: +SKIP
"""
