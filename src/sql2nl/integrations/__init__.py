"""Hooks into other people's programs: SQLAlchemy engines, IPython/Jupyter and Spark DataFrames.

None may break the program (or job) it hooks into: every listener catches its own failures,
describing happens off the query's hot path, and in Spark a bad statement is a row with its
error. Import the submodule you need (each imports its library only when used):

>>> from sql2nl.integrations.sqlalchemy import instrument   # doctest: +SKIP
>>> %load_ext sql2nl                                        # doctest: +SKIP
>>> from sql2nl.integrations.spark import describe_udf      # doctest: +SKIP
"""
