"""An Ollama ``Modelfile`` whose template renders exactly what :mod:`sql2nl.prompt` renders.

Instead of hand-translating each Jinja chat template to Go, we render the model's own template
(through :func:`sql2nl.prompt.render_prompt`, so ``<think>`` closing and the plain fallback are
included) with sentinel messages and cut the result at the sentinels: what is before the system
text, between system and user, and after the user text are the literal pieces of the Ollama
template ``A{{ .System }}B{{ .Prompt }}C``. That is exact for every template that renders a
system and a user turn — the plain sql2nl format, Llama-3, DeepSeek-R1 distills, ChatML — and the
tests check it by substituting the placeholders back.
"""

from __future__ import annotations

from typing import Any

from .errors import ExportError

_SYS, _USR = "\x00SQL2NL-SYSTEM\x00", "\x00SQL2NL-USER\x00"
PLACEHOLDER_SYSTEM, PLACEHOLDER_PROMPT, PLACEHOLDER_RESPONSE = "{{ .System }}", "{{ .Prompt }}", "{{ .Response }}"


def template_kind(tokenizer: Any) -> str:
    """A name for the chat format: ``plain``, ``llama3``, ``deepseek-r1``, ``chatml`` or ``custom``."""
    t = getattr(tokenizer, "chat_template", None) or ""
    if not t or "### Assistant" in t:
        return "plain"
    if "<|start_header_id|>" in t:
        return "llama3"
    if "<｜Assistant｜>" in t:
        return "deepseek-r1"
    if "<|im_start|>" in t:
        return "chatml"
    return "custom"


def template_pieces(tokenizer: Any) -> tuple[str, str, str]:
    """``(A, B, C)`` such that the prompt for (system, user) is ``A + system + B + user + C``."""
    from sql2nl.prompt import render_prompt

    text = render_prompt([{"role": "system", "content": _SYS}, {"role": "user", "content": _USR}], tokenizer)
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):  # llama.cpp and Ollama add BOS themselves (tokenizer.ggml.add_bos_token)
        text = text[len(bos) :]
    if text.count(_SYS) != 1 or text.count(_USR) != 1 or text.index(_SYS) > text.index(_USR):
        raise ExportError(
            "The model's chat template does not render the system and user messages once each, in "
            "order, so no Ollama template can be derived from it; write the Modelfile by hand."
        )
    a, rest = text.split(_SYS)
    b, c = rest.split(_USR)
    return a, b, c


def stop_sequences(tokenizer: Any, pieces: tuple[str, str, str]) -> list[str]:
    """End-of-turn markers: EOS, the template's special tokens, and the plain format's headers."""
    from sql2nl.prompt import PLAIN_STOP

    stops: list[str] = []
    eos = getattr(tokenizer, "eos_token", None)
    if eos:
        stops.append(eos)
    joined = "".join(pieces)
    for tok in getattr(tokenizer, "all_special_tokens", []) + list(getattr(tokenizer, "added_tokens_encoder", {})):
        if tok and tok in joined and tok not in stops:
            stops.append(tok)
    if template_kind(tokenizer) == "plain":
        header = PLAIN_STOP.strip()  # "###": the next "### User"/"### System" header ends the answer
        stops += [f"{header} User", f"{header} System"]
    return stops


def _quote(s: str) -> str:
    if '"""' in s:
        raise ExportError('The chat template contains """, which an Ollama Modelfile cannot quote.')
    return f'"""{s}"""'


def modelfile(tokenizer: Any, gguf_path: str, *, language: str = "en") -> str:
    """The Modelfile text: ``FROM``, ``TEMPLATE``, the sql2nl ``SYSTEM`` prompt, stops, greedy decoding."""
    from sql2nl.prompt import PROMPT_VERSION, SYSTEM

    a, b, c = pieces = template_pieces(tokenizer)
    template = f"{a}{PLACEHOLDER_SYSTEM}{b}{PLACEHOLDER_PROMPT}{c}{PLACEHOLDER_RESPONSE}"
    lines = [
        f"# sql2nl export ({PROMPT_VERSION}, chat format: {template_kind(tokenizer)}).",
        "# Send the user message built by sql2nl.prompt.build_messages; SYSTEM below is its default.",
        f"FROM {gguf_path}",
        f"TEMPLATE {_quote(template)}",
        f"SYSTEM {_quote(SYSTEM[language])}",
    ]
    for s in stop_sequences(tokenizer, pieces):
        lines.append(f'PARAMETER stop "{s}"')
    lines += ["PARAMETER temperature 0", "PARAMETER top_k 1"]
    return "\n".join(lines) + "\n"


def render_modelfile_template(template: str, system: str, prompt: str, response: str = "") -> str:
    """Fill the three placeholders of a template made by :func:`modelfile` (what Ollama does with it)."""
    return (
        template.replace(PLACEHOLDER_SYSTEM, system)
        .replace(PLACEHOLDER_PROMPT, prompt)
        .replace(PLACEHOLDER_RESPONSE, response)
    )
