"""The ``llamacpp`` backend: describes SQL with a GGUF model through llama-cpp-python.

>>> from sql2nl import describe
>>> describe("SELECT name FROM users", backend="llamacpp", model="model.q8_0.gguf")  # doctest: +SKIP

The prompt is :mod:`sql2nl.prompt`'s, rendered with the chat template stored in the GGUF (the
same template the model was trained with); think-stripping and the faithfulness guard come from
:class:`sql2nl.llm.LLMBackend`.
"""

from __future__ import annotations

import codecs
import itertools
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sql2nl import prompt as prompt_format
from sql2nl.errors import InvalidInputError, ModelError
from sql2nl.llm import LLMBackend
from sql2nl.pool import worker_cpus

from .gguf_file import check_lora
from .models import LoadedModel, load, resolve_gguf
from .options import LlamaCppOptions


class LlamaCppBackend(LLMBackend):
    """Describe with a GGUF model on CPU or GPU (llama.cpp).

    Options (``describe(..., backend="llamacpp", **options)``, CLI ``-m FILE -o key=value``):
    :class:`~sql2nl_llamacpp.options.LlamaCppOptions` (``sql2nl backends --options``).
    """

    name = "llamacpp"
    Options = LlamaCppOptions
    options: LlamaCppOptions  # set by Backend.__init__ from Options

    def __init__(self, model: str | Path | None = None, **options: Any):
        if model is not None:
            options["model"] = str(model)
        super().__init__(**options)
        o = self.options
        model, quant, chat_template = o.model, o.quant, o.chat_template
        if model is None or str(model).strip() == "":
            raise InvalidInputError(
                "The llamacpp backend needs a model: describe(..., backend='llamacpp', "
                "model='model.q8_0.gguf') or on the command line `-b llamacpp -m FILE.gguf`."
            )
        self.path = resolve_gguf(model, quant)
        self.lora = check_lora(o.lora, self.path) if o.lora is not None else None
        extra = {"lora_path": str(self.lora)} if self.lora is not None else {}
        # Sampling seeds go with each call, so backends differing only in seed share one loaded model.
        self.model: LoadedModel = load(
            self.path,
            n_ctx=o.n_ctx,
            # In a worker of describe_many(workers=N) / --workers N: its share of the cores, not all of them.
            n_threads=o.n_threads or worker_cpus(),
            n_gpu_layers=o.n_gpu_layers,
            n_batch=o.n_batch,
            verbose=o.verbose,
            extra_buffers=o.extra_buffers,
            **extra,
        )
        self.chat_template = chat_template if chat_template is not None else self.model.info.chat_template
        self.stop = self._stop_strings()
        self._calls = itertools.count()

    def fingerprint(self):
        # Which file the options resolved to, and whether it changed since: the options cannot say.
        st = self.path.stat()
        lora = None
        if self.lora is not None:  # the adapter file too: replaced in place, it gives other answers
            ls = self.lora.stat()
            lora = (str(self.lora.resolve()), ls.st_size, ls.st_mtime_ns)
        return (super().fingerprint(), str(self.path.resolve()), st.st_size, st.st_mtime_ns, self.chat_template, lora)

    def _stop_strings(self) -> list[str]:
        # llama.cpp stops on the model's end-of-generation tokens by itself; these catch the same
        # markers when they come out as plain text, and the plain template's next "### " header.
        llm = self.model.llm
        stops = []
        if not self.chat_template or "### Assistant" in self.chat_template:
            stops.append(prompt_format.PLAIN_STOP)
        for tok in {llm.token_eos(), llm._model.token_eot()}:
            if tok is not None and tok >= 0:
                text = llm._model.token_get_text(tok)
                if text and text.strip():
                    stops.append(text)
        return stops

    # -- LLMBackend ---------------------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> str:
        return prompt_format.render_prompt(messages, chat_template=self.chat_template)

    def _tokens(self, prompt: str) -> list[int]:
        """The prompt's tokens (with BOS when the model wants one), after checking they fit ``n_ctx``."""
        llm = self.model.llm
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        n = len(tokens)
        if n >= self.model.n_ctx:
            trained = self.model.info.context_length
            need = n + self.max_new_tokens
            raise ModelError(
                f"The prompt is {n} tokens but the context window is n_ctx={self.model.n_ctx} tokens. Pass a larger "
                f"n_ctx (e.g. n_ctx={need}; CLI: -o n_ctx={need})"
                + (f" up to the model's trained length of {trained}" if trained else "")
                + ", or describe a shorter statement with fewer schema hints."
            )
        return tokens

    def _seed(self, temp: float) -> int | None:
        if temp > 0 and self.seed is not None:  # a retry must not draw the very same sample again
            return self.seed + next(self._calls)
        return self.seed

    def generate(self, prompts: Sequence[str], *, temperature: float | None = None) -> list[str]:
        # The stream's own loop, joined: llama-cpp-python's create_completion lets a generation run
        # past max_tokens while a character's bytes are incomplete, so its text and the stream's
        # would differ at the end (Chinese, byte-level BPE); one loop gives one text.
        return ["".join(self.generate_stream(p, temperature=temperature)) for p in prompts]

    def generate_stream(self, prompt: str, *, temperature: float | None = None) -> Iterator[str]:
        """Text as it is generated, token by token, at most ``max_new_tokens`` tokens.

        Decoded here with an incremental UTF-8 decoder rather than through llama-cpp-python's
        stream, which drops characters whose bytes span tokens (common in Chinese with byte-level
        BPE); :meth:`generate` joins this stream.
        """
        import llama_cpp

        tokens = self._tokens(prompt)
        llm = self.model.llm
        budget = min(self.max_new_tokens, self.model.n_ctx - len(tokens))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        text, sent = "", 0
        done: list[int] = []
        hold = max((len(s) for s in self.stop), default=0)
        # The lock is held while the caller reads the stream; closing the generator releases it.
        temp = self.temperature if temperature is None else temperature
        with self.model.lock:
            seed = self._seed(temp)
            llm.set_seed(seed if seed is not None else random.randrange(2**32))
            for tok in llm.generate(tokens, top_k=40, top_p=self.top_p, min_p=0.05, temp=temp, repeat_penalty=1.0):
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok) or len(done) >= budget:
                    break
                piece = decoder.decode(llm.detokenize([tok], prev_tokens=tokens + done))
                done.append(tok)
                text += piece
                cut = _first_stop(text, self.stop, max(0, sent - hold))
                if cut is not None:
                    text = text[:cut]
                    break
                ready = len(text) - _partial_stop(text, self.stop, hold)
                if ready > sent:
                    yield text[sent:ready]
                    sent = ready
            else:
                text += decoder.decode(b"", final=True)
        if len(text) > sent:
            yield text[sent:]


def _first_stop(text: str, stops: Sequence[str], start: int) -> int | None:
    hits = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _partial_stop(text: str, stops: Sequence[str], hold: int) -> int:
    """How many characters at the end of ``text`` could be the start of a stop string (held back)."""
    tail = text[-hold:] if hold else ""
    longest = 0
    for s in stops:
        i = tail.find(s[0])
        while i >= 0:  # only where the stop's first character occurs: cheap per token
            if s.startswith(tail[i:]):
                longest = max(longest, len(tail) - i)
                break
            i = tail.find(s[0], i + 1)
    return longest
