"""THE prompt format: one module builds what every LLM sees, for training and inference alike."""

from __future__ import annotations

import pytest

from sql2nl import InvalidInputError, prompt
from sql2nl.backends import Request
from sql2nl.facts import extract
from sql2nl.llm import LLMBackend, ThinkFilter

SQL = "SELECT name FROM users WHERE age > 18"
SCHEMA = {
    "users": {"description": "customers", "columns": {"age": "age in years", "name": None}},
    "orders": ["id", "total"],
}


def test_messages_per_language():
    en = prompt.build_messages(SQL)
    zh = prompt.build_messages(SQL, language="zh")
    assert [m["role"] for m in en] == [m["role"] for m in zh] == ["system", "user"]
    assert en[1]["content"].endswith(SQL) and zh[1]["content"].endswith(SQL)
    assert zh[1]["content"].startswith("将以下SQL语句转换为自然语言描述")  # the seed's instruction
    assert en[0]["content"] != zh[0]["content"]


def test_schema_hints_only_for_the_query_tables():
    msgs = prompt.build_messages(SQL, schema=SCHEMA, tables=["users"])
    user = msgs[1]["content"]
    assert "Schema hints:" in user and "users (customers): age (age in years), name" in user
    assert "orders" not in user
    assert "表结构说明" in prompt.build_messages(SQL, language="zh", schema=SCHEMA)[1]["content"]
    assert "Schema hints" not in prompt.build_messages(SQL)[1]["content"]


def test_version_string():
    assert isinstance(prompt.PROMPT_VERSION, str) and prompt.PROMPT_VERSION


def test_unknown_language():
    with pytest.raises(InvalidInputError, match="en, zh"):
        prompt.build_messages(SQL, language="de")


def test_plain_template_and_its_chat_template_render_the_same_text():
    msgs = prompt.build_messages(SQL, schema=SCHEMA, tables=["users"])
    plain = prompt.render_prompt(msgs)
    assert plain.startswith("### System\n") and plain.endswith("### Assistant\n")
    assert prompt.render_prompt(msgs, chat_template=prompt.PLAIN_CHAT_TEMPLATE) == plain


def test_a_template_that_opens_a_think_block_gets_it_closed():
    template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}<think>"
    text = prompt.render_prompt(prompt.build_messages(SQL), chat_template=template)
    assert text.rstrip().endswith(prompt.THINK_CLOSE)


@pytest.mark.parametrize(
    "raw,answer",
    [
        ("Names of adult users.", "Names of adult users."),
        ("<think>the user wants names</think>\nNames of adult users.", "Names of adult users."),
        ("still thinking</think> Names of adult users.", "Names of adult users."),
        ("Names of adult users.<think>hmm", "Names of adult users."),
        ("<think>never finished", ""),
        ("Names of adult users.\n### User\nanother question", "Names of adult users."),
        ("Assistant: Names of adult users.", "Names of adult users."),
    ],
)
def test_strip_thinking(raw, answer):
    assert prompt.strip_thinking(raw) == answer


def test_strip_thinking_drops_an_echoed_prompt():
    p = prompt.render_prompt(prompt.build_messages(SQL))
    assert prompt.strip_thinking(p + "Names of adult users.", p) == "Names of adult users."


@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
def test_streaming_think_filter_matches_strip_thinking(chunks):
    raw = "<think>let me see: SELECT means list</think>\n\nNames of users older than 18."
    pieces = [raw[i : i + chunks] for i in range(0, len(raw), chunks)]
    f = ThinkFilter()
    streamed = "".join(f.feed(p) for p in pieces) + f.finish()
    assert streamed == prompt.strip_thinking(raw)


def test_training_example_is_prompt_plus_completion():
    ex = prompt.training_example(SQL, " Names of adult users. ", language="en", eos_token="</s>")
    assert ex["prompt"] == prompt.render_prompt(prompt.build_messages(SQL))
    assert ex["completion"] == "Names of adult users.</s>"


def test_llm_backends_build_their_prompt_with_this_module():
    class Fake(LLMBackend):
        name = "fake"

        def generate(self, prompts, *, temperature=None):
            return ["x" for _ in prompts]

    facts = tuple(extract(SQL))
    req = Request(SQL, facts, "zh", None, None)
    assert Fake().prompt_for(req) == prompt.render_prompt(prompt.build_messages(SQL, language="zh", tables=["users"]))
