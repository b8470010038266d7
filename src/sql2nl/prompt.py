"""THE prompt format: the one place that decides what an LLM sees, for training and every backend.

A model fine-tuned on one format and served with another silently degrades, so training
(``sql2nl_training``) and the transformers, llama.cpp and OpenAI-compatible backends all call
:func:`build_messages` and :func:`render_prompt`; nothing else formats prompts.

>>> msgs = build_messages("SELECT 1", language="en")
>>> [m["role"] for m in msgs]
['system', 'user']
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .schema import Schema

#: Bumped whenever the text below changes; stored in every training run and export manifest.
PROMPT_VERSION = "sql2nl-prompt-2"  # 2: the user message says the detail and style asked for

LANGUAGES = ("en", "zh")
#: ``detail=``: one short paragraph, or a numbered outline (one step per CTE / derived table, then the result).
DETAILS = ("summary", "steps")
#: ``style=``: "List the names of ..." or "What are the names of ...?".
STYLES = ("statement", "question")

SYSTEM = {
    "en": (
        "You explain SQL to people who do not read SQL. Answer with one or a few plain-English "
        "sentences that say what the query returns or changes, mentioning every table, column, "
        "condition value, grouping, ordering and limit. Do not repeat the SQL."
    ),
    "zh": (
        "你向不懂SQL的人解释SQL。用一两句简洁的中文说明查询返回或修改什么，提到每个表、列、"
        "条件值、分组、排序和数量限制。不要重复SQL。"
    ),
}
# The seed's instruction ("convert the following SQL statement into a natural-language description").
INSTRUCTION = {
    "en": "Describe the following SQL statement in plain language:",
    "zh": "将以下SQL语句转换为自然语言描述：",
}
SCHEMA_HEADER = {"en": "Schema hints:", "zh": "表结构说明："}
# How the answer reads: ``detail`` and ``style`` (the same options the rules describer takes).
DETAIL_INSTRUCTION = {
    "en": {
        "summary": "Answer in one short paragraph (at most about 60 words): what comes out and the main conditions.",
        "steps": "Answer with a numbered outline in execution order: one step per CTE or derived table "
        "(what it builds from what), then the final result.",
    },
    "zh": {
        "summary": "用一小段话回答（不超过约120个字）：说明输出什么以及主要条件。",
        "steps": "按执行顺序用编号列表回答：每个CTE或派生表一步（由什么构建出什么），最后一步是最终结果。",
    },
}
STYLE_INSTRUCTION = {
    "en": {
        "statement": "Phrase it as a statement or instruction, not a question.",
        "question": "Phrase it as a question.",
    },
    "zh": {"statement": "用陈述句表达，不要用问句。", "question": "用问句表达。"},
}

# Used when a tokenizer has no chat template (e.g. a scratch model trained from zero).
PLAIN_TEMPLATE = "### System\n{system}\n\n### User\n{user}\n\n### Assistant\n"
PLAIN_STOP = "\n### "
# The same format as a Hugging Face chat template, given to models built from scratch so that every
# path (transformers, GGUF, Ollama) renders prompts through a template and gets identical text.
PLAIN_CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}### System\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### User\n{{ m['content'] }}\n\n"
    "{% else %}### Assistant\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}### Assistant\n{% endif %}"
)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def check_language(language: str) -> str:
    from .errors import InvalidInputError

    if language not in LANGUAGES:
        raise InvalidInputError(f"Unsupported language {language!r}; choose one of {', '.join(LANGUAGES)}.")
    return language


def schema_lines(schema: Schema | None, tables: Iterable[str] = ()) -> list[str]:
    """One line per table the query uses: its columns, with the user's descriptions."""
    if schema is None:
        return []
    wanted = {t.lower() for t in tables}
    lines = []
    for t in schema.tables:
        if wanted and t.name.lower() not in wanted:
            continue
        cols = ", ".join(f"{c.name} ({c.description})" if c.description else c.name for c in t.columns)
        head = f"{t.name} ({t.description})" if t.description else t.name
        lines.append(f"- {head}: {cols}")
    return lines


def build_messages(
    sql: str,
    *,
    language: str = "en",
    schema: Schema | Mapping | None = None,
    tables: Iterable[str] = (),
    detail: str = "summary",
    style: str = "statement",
) -> list[dict[str, str]]:
    """The chat messages for describing ``sql`` (system + user), asking for ``detail``
    ("summary" or "steps") in ``style`` ("statement" or "question")."""
    check_language(language)
    check_shape(detail, style)
    schema = Schema.from_any(schema)
    how = f"{DETAIL_INSTRUCTION[language][detail]} {STYLE_INSTRUCTION[language][style]}"
    user = f"{INSTRUCTION[language]}\n{how}\n\n{sql.strip()}"
    hints = schema_lines(schema, tables)
    if hints:
        user += f"\n\n{SCHEMA_HEADER[language]}\n" + "\n".join(hints)
    return [{"role": "system", "content": SYSTEM[language]}, {"role": "user", "content": user}]


def check_shape(detail: str, style: str) -> None:
    """Raise :class:`~sql2nl.errors.InvalidInputError` unless ``detail``/``style`` are known values."""
    from .errors import InvalidInputError

    if detail not in DETAILS:
        raise InvalidInputError(f"detail must be one of {', '.join(map(repr, DETAILS))}, got {detail!r}.")
    if style not in STYLES:
        raise InvalidInputError(f"style must be one of {', '.join(map(repr, STYLES))}, got {style!r}.")


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(messages: list[dict[str, str]], tokenizer: Any = None, *, chat_template: str | None = None) -> str:
    """The exact text a model is given (and trained on) before the description.

    With a tokenizer that has a chat template (or ``chat_template=`` for GGUF files), that template
    renders it; otherwise :data:`PLAIN_TEMPLATE`. When the template opens a reasoning block
    (DeepSeek-R1 distills end the generation prompt with ``<think>``), the block is closed here so
    the model answers directly — in training and at inference alike.
    """
    if tokenizer is not None and has_chat_template(tokenizer) and chat_template is None:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    elif chat_template:
        text = render_jinja_template(chat_template, messages)
    else:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = "\n\n".join(m["content"] for m in messages if m["role"] == "user")
        text = PLAIN_TEMPLATE.format(system=system, user=user)
    if text.rstrip().endswith(THINK_OPEN):
        text = text.rstrip() + "\n\n" + THINK_CLOSE + "\n\n"
    return text


def render_jinja_template(template: str, messages: list[dict[str, str]], **extra: Any) -> str:
    """Render a Hugging Face-style chat template (as stored in GGUF metadata) with jinja2."""
    ctx = {"bos_token": "", "eos_token": "", "add_generation_prompt": True}
    ctx.update(extra)
    return _compiled_template(template).render(messages=messages, **ctx)


@functools.lru_cache(maxsize=16)
def _compiled_template(template: str) -> Any:
    # Compiling a template costs ~10 ms, as much as generating a few tokens: once per template.
    import jinja2  # light, and only needed for GGUF/OpenAI backends
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.Undefined)

    def raise_exception(msg):
        raise jinja2.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt, the same in training and at inference.

    The tokenizer adds its special tokens (BOS) unless the chat template already wrote BOS at the
    start, so a model never sees two BOS tokens in one place and one in the other.
    """
    bos = getattr(tokenizer, "bos_token", None)
    return tokenizer(text, add_special_tokens=not (bos and text.startswith(bos)))["input_ids"]


def training_example(
    sql: str,
    description: str,
    *,
    language: str = "en",
    tokenizer: Any = None,
    schema: Schema | Mapping | None = None,
    eos_token: str | None = None,
    detail: str = "summary",
    style: str = "statement",
) -> dict[str, str]:
    """The prompt/completion pair a model is trained on: loss goes on ``completion`` only."""
    prompt = render_prompt(build_messages(sql, language=language, schema=schema, detail=detail, style=style), tokenizer)
    eos = eos_token if eos_token is not None else (getattr(tokenizer, "eos_token", None) or "")
    return {"prompt": prompt, "completion": description.strip() + eos}


_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S)


def strip_thinking(text: str, prompt: str | None = None) -> str:
    """The answer part of a generation: no ``<think>`` block (closed or not), no echoed prompt."""
    if prompt and text.startswith(prompt):
        text = text[len(prompt) :]
    text = _THINK_BLOCK.sub("", text)
    if THINK_CLOSE in text:  # the block was opened by the prompt: keep what follows its close
        text = text.split(THINK_CLOSE, 1)[1]
    if THINK_OPEN in text:  # opened but never closed: the model never got to the answer
        text = text.split(THINK_OPEN, 1)[0]
    # Stop at the plain template's next header, and drop stray role tags.
    text = text.split(PLAIN_STOP, 1)[0]
    text = re.sub(r"^\s*(assistant|Assistant|###\s*Assistant)\s*[:\n]", "", text)
    return text.strip()
