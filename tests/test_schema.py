"""Schema hints: every accepted form, lookups, fingerprints, and their use in descriptions."""

from __future__ import annotations

import pytest
from skips import require

from sql2nl import InvalidInputError, describe
from sql2nl.schema import Schema


def test_dict_of_column_lists():
    s = Schema.from_any({"users": ["id", "name"]})
    assert [t.name for t in s.tables] == ["users"] and [c.name for c in s.tables[0].columns] == ["id", "name"]
    assert s.column_words("users", "name") is None


def test_dict_of_column_descriptions_and_table_descriptions():
    s = Schema.from_any({"users": {"description": "customers", "columns": {"dob": "date of birth"}},
                         "orders": {"total": {"description": "amount paid"}}})
    assert s.table_words("USERS") == "customers"  # case-insensitive
    assert s.table_words("public.users") == "customers"  # schema-qualified names
    assert s.column_words("users", "DOB") == "date of birth"
    assert s.column_words(None, "total") == "amount paid"  # looked up in any table
    assert s.to_dict()["users"] == {"description": "customers", "columns": {"dob": "date of birth"}}


def test_sqlalchemy_metadata():
    sa = require("sqlalchemy")
    md = sa.MetaData()
    sa.Table("emp", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("sal", sa.Integer, comment="monthly salary"),
             sa.Column("dno", sa.Integer, info={"description": "department number"}), comment="employees")
    s = Schema.from_any(md)
    assert s.table_words("emp") == "employees"
    assert s.column_words("emp", "sal") == "monthly salary" and s.column_words("emp", "dno") == "department number"
    d = describe("SELECT sal FROM emp WHERE dno = 10", schema=md)
    assert "monthly salar" in d.text and "employee" in d.text


@pytest.mark.parametrize("bad,needle", [
    (["users"], "schema= must be"),
    ("users", "schema= must be"),
    ({"users": 5}, "schema['users']"),
])
def test_bad_forms_name_what_is_wrong(bad, needle):
    with pytest.raises(InvalidInputError) as e:
        Schema.from_any(bad)
    assert needle in str(e.value)


def test_fingerprint_changes_with_the_words():
    a = Schema.from_any({"users": {"dob": "date of birth"}})
    b = Schema.from_any({"users": {"dob": "birthday"}})
    assert a.fingerprint == Schema.from_any({"users": {"dob": "date of birth"}}).fingerprint
    assert a.fingerprint != b.fingerprint


def test_none_and_schema_pass_through():
    s = Schema.from_any({"t": ["a"]})
    assert Schema.from_any(None) is None and Schema.from_any(s) is s
