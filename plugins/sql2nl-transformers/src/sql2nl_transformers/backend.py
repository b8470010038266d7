"""The ``transformers`` backend: batched, streamed generation on a Hugging Face causal LM.

Prompt building, think-stripping and the faithfulness guard come from :class:`sql2nl.llm.LLMBackend`;
this module turns rendered prompts into generated text, fast on CUDA (static KV cache, the
backend's own decode loop — :mod:`.decoding` — whose per-token step is compiled with
``torch.compile`` into CUDA graphs) and plainly on the CPU (HF ``generate``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sql2nl import prompt as prompt_format
from sql2nl.errors import InvalidInputError
from sql2nl.llm import LLMBackend
from sql2nl.prompt import encode_prompt

from . import decoding, loading
from .options import TransformersOptions

log = logging.getLogger("sql2nl.transformers")

# Shapes the compiled decode step sees are bucketed so that few CUDA graphs are ever recorded:
# the batch is padded up to one of these sizes and the static cache length to a multiple of CACHE_STEP.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128)
CACHE_STEP = 256
MAX_CACHES = 4


def _bucket(n: int, buckets: Sequence[int]) -> int:
    return next((b for b in buckets if b >= n), n)


class TransformersBackend(LLMBackend):
    """Describe SQL with a transformers model: ``model=`` hub id, model dir, merged dir or training run dir.

    >>> from sql2nl import describe
    >>> describe("SELECT name FROM users", backend="transformers", model="runs/spider")  # doctest: +SKIP

    Options: :class:`~sql2nl_transformers.options.TransformersOptions` (``sql2nl backends --options``).
    """

    name = "transformers"
    Options = TransformersOptions
    options: TransformersOptions  # set by Backend.__init__ from Options
    # One process by default (`--jsonl` without --workers): it batches on the GPU, and each worker
    # process would load another copy of the model.
    pool_workers = 1

    def __init__(self, *, _loaded: loading.LoadedModel | None = None, **options: Any):
        super().__init__(**options)
        o = self.options
        model, adapter, device, dtype = o.model, o.adapter, o.device, o.dtype
        compile, static_cache, fast_decode, batch_size = o.compile, o.static_cache, o.fast_decode, o.batch_size
        merge_adapter = o.merge_adapter
        self.batch_size = batch_size
        if _loaded is None:
            spec = loading.resolve(model, adapter)
            _loaded = loading.load(spec, device=device, dtype=dtype, merge_adapter=merge_adapter)
        self.loaded = _loaded
        self.model = _loaded.model
        self.tokenizer = _loaded.tokenizer
        self.device = _loaded.device
        on_cuda = self.device.type == "cuda"
        self.compile = on_cuda if compile == "auto" else bool(compile)
        self.static_cache = self.compile if static_cache == "auto" else bool(static_cache)
        if self.compile and not self.static_cache:
            raise InvalidInputError("compile=True needs the static KV cache; leave static_cache='auto'.")
        self.fast_decode = self.compile if fast_decode == "auto" else bool(fast_decode)
        if self.fast_decode and not self.static_cache:
            raise InvalidInputError("fast_decode=True needs the static KV cache; leave static_cache='auto'.")
        if self.fast_decode:
            reason = decoding.unsupported_reason(self.model, self.model.generation_config)
            if reason:
                log.info("the model's %s needs HF generate; not using the fast decode loop", reason)
                self.fast_decode = False
        self._fullgraph = True  # the fast loop's step compiled as one graph; lowered once if that fails
        self._sample_calls = 0
        self._max_positions = getattr(self.model.config, "max_position_embeddings", None)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **options: Any) -> "TransformersBackend":
        """A backend around a model and tokenizer already in memory (same generation path as ``model=``)."""
        return cls(_loaded=loading.from_objects(model, tokenizer), **options)

    def fingerprint(self):
        # What the options cannot say: which weights were resolved and loaded, in which dtype.
        return (super().fingerprint(), self.loaded.spec.label, str(getattr(self.model, "dtype", "")))

    # -- prompts --------------------------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> str:
        return prompt_format.render_prompt(messages, self.tokenizer)

    def _encode(self, prompts: Sequence[str]) -> list[list[int]]:
        rows = [encode_prompt(self.tokenizer, p) for p in prompts]
        if self._max_positions:
            for row in rows:
                if len(row) + self.max_new_tokens > self._max_positions:
                    raise InvalidInputError(
                        f"The prompt takes {len(row)} tokens; with max_new_tokens={self.max_new_tokens} that exceeds "
                        f"the model's context of {self._max_positions} tokens. Shorten the SQL (or its schema hints) "
                        "or lower max_new_tokens."
                    )
        return rows

    # -- generation -----------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], *, temperature: float | None = None) -> list[str]:
        """Generate for every prompt: shortest first, ``batch_size`` at a time, left-padded; results in input order."""
        rows = self._encode(prompts)
        temp = self.temperature if temperature is None else temperature
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out: list[str] = [""] * len(rows)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, text in zip(chunk, self.generate_ids([rows[i] for i in chunk], temperature=temp)):
                out[i] = text
        return out

    def generate_ids(self, rows: Sequence[Sequence[int]], *, temperature: float = 0.0) -> list[str]:
        """Generate for one batch of token-id prompts and decode the new tokens."""
        tokens = self.generate_tokens(rows, temperature=temperature)
        return self.tokenizer.batch_decode(tokens, skip_special_tokens=True)

    def generate_tokens(self, rows: Sequence[Sequence[int]], *, temperature: float = 0.0) -> list[list[int]]:
        """The new token ids for one batch of token-id prompts (up to and including EOS).

        This is the path every :meth:`generate` call takes, and what the GPU benchmark times. It runs
        on the model's worker thread (see :mod:`.loading`), one batch at a time.
        """
        return self.loaded.run(self._generate_guarded, [list(r) for r in rows], temperature)

    def _generate_guarded(self, rows: list[list[int]], temperature: float) -> list[list[int]]:
        import torch

        try:
            return self._generate_splitting(rows, temperature)
        except torch.cuda.OutOfMemoryError as e:
            self._free_gpu()
            raise loading.oom_error(
                f"generating one query of {len(rows[0])} prompt tokens",
                f"Lower max_new_tokens (now {self.max_new_tokens}), shorten the SQL, use a smaller model, or "
                "free GPU memory used by other processes.",
            ) from e

    def _free_gpu(self) -> None:
        import torch

        self.loaded.caches.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _generate_splitting(self, rows: list[list[int]], temperature: float) -> list[list[int]]:
        import torch

        try:
            return self._generate_batch(rows, temperature)
        except torch.cuda.OutOfMemoryError:
            if len(rows) == 1:
                raise
            self._free_gpu()
            # Halving the batch keeps the run going; the user is told to lower batch_size for speed.
            log.warning(
                "out of GPU memory with a batch of %d; retrying in halves (set batch_size lower to avoid this)",
                len(rows),
            )
            half = len(rows) // 2
            return self._generate_splitting(rows[:half], temperature) + self._generate_splitting(
                rows[half:], temperature
            )

    def _generate_batch(self, rows: list[list[int]], temperature: float) -> list[list[int]]:
        n = len(rows)
        if self.static_cache:
            rows = rows + [rows[-1]] * (_bucket(n, BATCH_BUCKETS) - n)
        enc = self._pad(rows)
        out = self._new_tokens(enc, temperature)
        eos = self._eos_ids
        result = []
        for row in out[:n].tolist():
            end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
            result.append(row[:end])
        return result

    def _new_tokens(self, enc, temperature: float):
        """The new tokens ``[B, n]`` of a padded batch: the own decode loop on the fast path, else HF generate."""
        width = enc["input_ids"].shape[1]
        while True:
            try:
                if self.fast_decode:
                    return self._run_own(enc, temperature)
                return self._run_generate(enc, temperature)[:, width:]
            except Exception as e:
                if not (self.compile and _is_compile_failure(e)):
                    raise
                # A torch.compile failure must not cost the user their answer: step down (one graph ->
                # graph breaks allowed -> no compile) and generate again from a reset cache.
                if self.fast_decode and self._fullgraph:
                    log.warning(
                        "compiling the decode step as one graph failed (%s: %s); allowing graph breaks",
                        type(e).__name__,
                        e,
                    )
                    self._fullgraph = False
                else:
                    log.warning("torch.compile failed (%s: %s); generating without it from now on", type(e).__name__, e)
                    self.compile = False

    def _run_own(self, enc, temperature: float):
        """The fast path: prefill + compiled per-token step (:func:`.decoding.generate`)."""
        import torch

        width = enc["input_ids"].shape[1]
        cache = self._cache_for(enc["input_ids"].shape[0], self._cache_len(width))
        sampling = None
        if temperature and temperature > 0:
            self._seed_sampling()
            top_k = self.model.generation_config.top_k
            sampling = decoding.Sampling(float(temperature), 50 if top_k is None else int(top_k), self.top_p)
        with torch.no_grad():
            return decoding.generate(
                self._steps(),
                cache,
                enc["input_ids"],
                enc["attention_mask"],
                max_new_tokens=self.max_new_tokens,
                stop_ids=self._eos_ids,
                sampling=sampling,
            )

    def _steps(self) -> decoding.Steps:
        """The per-token step functions for the current compile settings (one set per model, shared)."""
        key = (self.compile, self._fullgraph)
        steps = self.loaded.steps.get(key)
        if steps is None:
            steps = self.loaded.steps[key] = decoding.Steps(
                self.model, self.tokenizer.pad_token_id, compile=self.compile, fullgraph=self._fullgraph
            )
        return steps

    def _seed_sampling(self) -> None:
        import torch

        if self.seed is not None:  # seeded, yet every call draws anew (retries need that)
            torch.manual_seed(self.seed + self._sample_calls)
            self._sample_calls += 1

    def _pad(self, rows: list[list[int]]) -> dict:
        """Left-padded ``input_ids`` and ``attention_mask`` on the model's device (nothing else: the
        compiled forward sees as few inputs as possible)."""
        enc = self.tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt")
        return {k: enc[k].to(self.device) for k in ("input_ids", "attention_mask")}

    def _run_generate(self, enc, temperature: float, streamer=None):
        import torch

        width = enc["input_ids"].shape[1]
        config = self.generation_config(temperature, width)
        kwargs = {}
        with torch.no_grad():  # not inference_mode: reused cache tensors must stay normal tensors
            if self.static_cache:
                kwargs["past_key_values"] = self._cache_for(enc["input_ids"].shape[0], self._cache_len(width))
            return self.model.generate(**enc, generation_config=config, streamer=streamer, **kwargs)

    def _cache_for(self, batch: int, length: int):
        from transformers import StaticCache

        caches = self.loaded.caches
        key = (batch, length)
        cache = caches.pop(key, None)
        if cache is None:
            cache = StaticCache(config=self.model.config, max_cache_len=length)
            while len(caches) >= MAX_CACHES:  # oldest first: bounds the memory held by idle shapes
                caches.pop(next(iter(caches)))
        else:
            cache.reset()
        caches[key] = cache  # most recently used last
        return cache

    @property
    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def generation_config(self, temperature: float, prompt_width: int):
        """The GenerationConfig of one call (HF generate path): greedy or sampled, static cache and compile."""
        from transformers import CompileConfig

        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens = self.max_new_tokens
        config.max_length = None
        config.pad_token_id = self.tokenizer.pad_token_id
        if config.eos_token_id is None:
            config.eos_token_id = self.tokenizer.eos_token_id
        if temperature and temperature > 0:
            config.do_sample, config.temperature, config.top_p = True, float(temperature), self.top_p
            self._seed_sampling()
        else:
            # Models ship sampling defaults (R1 distills: temperature 0.6); greedy must not inherit them.
            config.do_sample, config.temperature, config.top_p, config.top_k = False, None, None, None
        config.cache_implementation = None  # the static cache, when used, is passed in (see _cache_for)
        if self.static_cache:
            config.disable_compile = not self.compile
            if self.compile:
                cc = CompileConfig(fullgraph=False, mode="reduce-overhead")
                if self.device.type != "cuda":
                    cc._compile_all_devices = True  # type: ignore[assignment]  # transformers declares the private flag as None
                config.compile_config = cc
        else:
            config.disable_compile = True
        return config

    def _cache_len(self, prompt_width: int) -> int:
        need = prompt_width + self.max_new_tokens
        length = -(-need // CACHE_STEP) * CACHE_STEP
        return max(need, min(length, self._max_positions)) if self._max_positions else length

    def generate_stream(self, prompt: str) -> Iterator[str]:
        """Yield text as the model produces it; the model's worker thread generates meanwhile."""
        import torch
        from transformers import TextIteratorStreamer

        (row,) = self._encode([prompt])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

        def work() -> None:
            try:
                enc = self._pad([row])
                self._run_generate(enc, self.temperature, streamer=streamer)
            except BaseException:
                streamer.end()  # unblock the reader; the error reaches it through the future
                raise

        future = self.loaded.submit(work)
        yield from streamer
        try:
            future.result()
        except torch.cuda.OutOfMemoryError as e:
            self._free_gpu()
            raise loading.oom_error("while streaming", "Lower max_new_tokens or use a smaller model.") from e


def _is_compile_failure(e: BaseException) -> bool:
    mod = type(e).__module__ or ""
    return mod.startswith(("torch._dynamo", "torch._inductor")) or "BackendCompilerFailed" in type(e).__name__


__all__ = ["TransformersBackend"]
