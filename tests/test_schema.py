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
    s = Schema.from_any(
        {
            "users": {"description": "customers", "columns": {"dob": "date of birth"}},
            "orders": {"total": {"description": "amount paid"}},
        }
    )
    assert s.table_words("USERS") == "customers"  # case-insensitive
    assert s.table_words("public.users") == "customers"  # schema-qualified names
    assert s.column_words("users", "DOB") == "date of birth"
    assert s.column_words(None, "total") == "amount paid"  # looked up in any table
    assert s.to_dict()["users"] == {"description": "customers", "columns": {"dob": "date of birth"}}


def test_sqlalchemy_metadata():
    sa = require("sqlalchemy")
    md = sa.MetaData()
    sa.Table(
        "emp",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sal", sa.Integer, comment="monthly salary"),
        sa.Column("dno", sa.Integer, info={"description": "department number"}),
        comment="employees",
    )
    s = Schema.from_any(md)
    assert s.table_words("emp") == "employees"
    assert s.column_words("emp", "sal") == "monthly salary" and s.column_words("emp", "dno") == "department number"
    d = describe("SELECT sal FROM emp WHERE dno = 10", schema=md)
    assert "monthly salar" in d.text and "employee" in d.text


@pytest.mark.parametrize(
    "bad,needle",
    [
        (["users"], "schema= must be"),
        ("users", "schema= must be"),
        ({"users": 5}, "schema['users']"),
    ],
)
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


SPIDER_ENTRY = {
    "db_id": "dorm_1",
    "table_names_original": ["Student", "Dorm", "Lives_in"],
    "table_names": ["student", "dorm", "lives in"],
    "column_names_original": [
        [-1, "*"],
        [0, "StuID"],
        [0, "LName"],
        [1, "dormid"],
        [1, "dorm_name"],
        [2, "stuid"],
        [2, "dormid"],
        [2, "room_number"],
    ],
    "column_names": [
        [-1, "*"],
        [0, "stuid"],
        [0, "last name"],
        [1, "dorm id"],
        [1, "dorm name"],
        [2, "stuid"],
        [2, "dorm id"],
        [2, "room number"],
    ],
    "primary_keys": [1, 3],
    "foreign_keys": [[5, 1], [6, 3]],
}


def test_spider_tables_entry_gives_natural_names_and_keys():
    s = Schema.from_any(SPIDER_ENTRY)
    assert [t.name for t in s.tables] == ["Student", "Dorm", "Lives_in"]
    assert s.column_words("Student", "LName") == "last name"
    assert s.column_words("Student", "StuID") is None  # "stuid" says no more than the identifier
    assert s.is_key("Student", "StuID") is True and s.is_key("Lives_in", "stuid") is None
    assert s.table("Lives_in").column("dormid").references == ("Dorm", "dormid")


def test_spider_tables_file(tmp_path):
    import json

    path = tmp_path / "tables.json"
    path.write_text(json.dumps([SPIDER_ENTRY]))
    assert Schema.from_spider_tables(path, "dorm_1").table_words("Dorm") is None
    with pytest.raises(InvalidInputError, match="No database 'x'"):
        Schema.from_spider_tables(path, "x")


def test_spider_key_listed_for_a_composite_key_is_not_a_key_of_its_own():
    # Spider lists one column of Vocals' composite key (SongId, Bandmate); both point at other
    # tables, so SongId is part of a composite key: a song has many vocals.
    entry = {
        "db_id": "music_2",
        "table_names_original": ["Songs", "Band", "Vocals"],
        "column_names_original": [
            [-1, "*"],
            [0, "SongId"],
            [0, "Title"],
            [1, "Id"],
            [2, "SongId"],
            [2, "Bandmate"],
            [2, "Type"],
        ],
        "primary_keys": [1, 3, 4],
        "foreign_keys": [[4, 1], [5, 3]],
    }
    s = Schema.from_any(entry)
    assert s.is_key("Songs", "SongId") is True
    assert not s.is_key("Vocals", "SongId")
    d = describe(
        "SELECT title FROM vocals AS T1 JOIN songs AS T2 ON T1.songid = T2.songid "
        "GROUP BY T1.songid ORDER BY count(*) DESC LIMIT 1",
        schema=s,
        cache=False,
    )
    assert d.text == "Find the title of the song with the most vocals."
