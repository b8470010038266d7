"""The transformers backend on tiny scratch models (CPU, offline, seconds)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from skips import require

require("torch")
require("transformers")
require("peft")
require("sql2nl_training")

import torch  # noqa: E402

import sql2nl  # noqa: E402
from sql2nl import describe, describe_many, describe_stream  # noqa: E402
from sql2nl.backends import get_backend  # noqa: E402
from sql2nl.errors import BackendUnavailableError, InvalidInputError, ModelError  # noqa: E402
from sql2nl.prompt import PROMPT_VERSION  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import tinymodels as tm  # noqa: E402

from sql2nl_transformers import decoding, loading  # noqa: E402
from sql2nl_transformers.backend import TransformersBackend  # noqa: E402

# Several lengths, so that a batch really pads.
SQLS = [
    "SELECT name FROM singer",
    "SELECT count(*) FROM concert WHERE year = 2014",
    "SELECT title FROM song ORDER BY sales DESC LIMIT 3",
    "SELECT country, avg(age) FROM singer GROUP BY country HAVING count(*) > 2 ORDER BY country",
    "SELECT a.name FROM singer AS a JOIN song AS b ON a.id = b.singer_id WHERE b.sales > 100",
]
FAST = dict(max_new_tokens=12)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """base (random), adapter (random LoRA), merged, fit (overfit on PAIRS + THINK_PAIRS)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only fight the other test processes for the cores
    root = tmp_path_factory.mktemp("tx")
    base = tm.build_tiny(root / "base", pairs=tm.PAIRS + tm.THINK_PAIRS)
    adapter = tm.make_lora_adapter(base, root / "adapter")
    merged = tm.merge_adapter(base, adapter, root / "merged")
    fit = tm.overfit(base, tm.PAIRS + tm.THINK_PAIRS, out_dir=root / "fit")
    yield {"root": root, "base": str(base), "adapter": str(adapter), "merged": str(merged), "fit": str(fit)}
    loading.unload_all()
    torch.set_num_threads(threads)


def gen(model, sqls=SQLS, **kw):
    """Raw generations (before the guard) for each SQL, one call per SQL."""
    be = get_backend("transformers", model=model, **{**FAST, **kw})
    return [be.generate([be.prompt_for(_request(s))])[0] for s in sqls]


def _request(sql):
    from sql2nl.backends import Request
    from sql2nl.facts import extract

    return Request(sql, tuple(extract(sql)), "en")


# -- plugin wiring ------------------------------------------------------------------------------
def test_registered_through_entry_point_and_light_at_import():
    from sql2nl.backends import available_backends

    assert available_backends()["transformers"].plugin == "transformers"
    code = (
        "import sys, sql2nl_transformers.plugin as p; from sql2nl.backends import available_backends; "
        "available_backends(); assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_dependency_names_the_install(monkeypatch, models):
    from sql2nl.backends import clear_backend_instances

    clear_backend_instances()  # the check runs when an instance is built, not for a shared one
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    with pytest.raises(BackendUnavailableError, match="pip install sql2nl-transformers"):
        describe("SELECT 1", backend="transformers", model=models["base"], cache=False)


# -- loading ------------------------------------------------------------------------------------
def test_local_dirs_and_hub_ids_go_to_the_same_from_pretrained(models):
    assert loading.resolve(models["base"]).model == models["base"]
    assert (
        loading.resolve("deepseek-ai/DeepSeek-R1-Distill-Llama-8B").model == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
    )
    spec = loading.resolve(models["base"], models["adapter"])
    assert (spec.model, spec.adapter) == (models["base"], models["adapter"])


def test_adapter_changes_outputs_and_merged_equals_base_plus_adapter(models):
    plain = gen(models["base"])
    with_adapter = gen(models["base"], adapter=models["adapter"])
    unmerged = gen(models["base"], adapter=models["adapter"], merge_adapter=False)
    merged = gen(models["merged"])
    assert with_adapter != plain
    assert with_adapter == merged == unmerged


def test_run_dir_prefers_merged_else_base_plus_adapter(models):
    root = Path(models["root"])
    run_a = tm.write_run_dir(root / "run_adapter", base_model=models["base"])
    shutil.copytree(models["adapter"], run_a / "adapter")
    run_m = tm.write_run_dir(root / "run_merged", base_model=models["base"], merged="merged")
    shutil.copytree(models["merged"], run_m / "merged")
    spec = loading.resolve(str(run_a))
    assert (spec.model, spec.adapter, spec.prompt_version) == (models["base"], str(run_a / "adapter"), PROMPT_VERSION)
    assert loading.resolve(str(run_m)) == loading.ModelSpec(str(run_m / "merged"), None, str(run_m), PROMPT_VERSION)
    assert gen(str(run_a)) == gen(str(run_m)) == gen(models["merged"])


def test_run_dir_with_another_prompt_version_warns(models):
    run = tm.write_run_dir(
        Path(models["root"]) / "run_old",
        base_model=models["base"],
        adapter=None,
        merged="merged",
        prompt_version="sql2nl-prompt-0",
    )
    shutil.copytree(models["merged"], run / "merged")
    with pytest.warns(UserWarning, match="prompt format 'sql2nl-prompt-0'"):
        loading.resolve(str(run))


def test_model_loaded_once_and_shared(models):
    a = get_backend("transformers", model=models["base"], on_unfaithful="warn")
    b = get_backend("transformers", model=models["base"], on_unfaithful="fallback")
    assert a is not b and a.model is b.model


# -- generation ---------------------------------------------------------------------------------
def test_overfit_model_reproduces_its_training_descriptions(models):
    """Training (sql2nl.prompt.training_example) and inference share one prompt: the model recites."""
    for sql, desc in tm.PAIRS:
        assert describe(sql, backend="transformers", model=models["fit"], max_new_tokens=40, cache=False).text == desc
    many = describe_many(
        [s for s, _ in tm.PAIRS], backend="transformers", model=models["fit"], max_new_tokens=40, cache=False
    )
    assert [d.text for d in many] == [d for _, d in tm.PAIRS]


@pytest.mark.parametrize("static_cache,fast_decode", [(False, False), (True, False), (True, True)])
def test_batch_equals_one_at_a_time(models, static_cache, fast_decode):
    opts = dict(
        model=models["adapter"], static_cache=static_cache, fast_decode=fast_decode, **FAST
    )  # a bare adapter dir names its base
    singles = [describe(s, backend="transformers", cache=False, **opts).text for s in SQLS]
    batched = describe_many(SQLS, backend="transformers", cache=False, batch_size=len(SQLS), **opts)
    assert [d.text for d in batched] == singles
    assert len(set(singles)) > 1
    if static_cache:  # one reusable cache per (batch, length) shape, reset between calls
        assert get_backend("transformers", **opts).loaded.caches


def test_static_cache_path_equals_dynamic_cache(models):
    assert gen(models["base"], static_cache=True) == gen(models["base"], static_cache=False)


# -- the fast path's own decode loop (decoding.py), run here without CUDA graphs ----------------------
def _rows(be, sqls=SQLS):
    return be._encode([be.prompt_for(_request(s)) for s in sqls])


@pytest.mark.parametrize("which", ["base", "fit", "unmerged"])
def test_fast_decode_equals_hf_greedy_generate(models, which):
    """Token for token: own loop (static cache, left padding, stop tokens) == HF generate (dynamic cache)."""
    opts = (
        dict(model=models["base"], adapter=models["adapter"], merge_adapter=False)
        if which == "unmerged"
        else dict(model=models[which])
    )
    n = 40 if which == "fit" else 16
    sqls = [s for s, _ in tm.PAIRS] + SQLS[3:] if which == "fit" else SQLS
    hf = TransformersBackend(static_cache=False, max_new_tokens=n, **opts)
    own = TransformersBackend(static_cache=True, fast_decode=True, max_new_tokens=n, **opts)
    assert own.fast_decode and not own.compile and not hf.fast_decode
    rows = _rows(hf, sqls)
    want = hf.generate_tokens(rows)
    got = own.generate_tokens(rows)
    assert got == want
    assert [own.generate_tokens([r])[0] for r in rows] == got  # batch == single
    assert all(0 < len(t) <= n for t in got)
    eos = own.tokenizer.eos_token_id
    if which == "fit":  # the overfit model ends its answers: the loop stopped at EOS, rows padded after it
        assert sum(t[-1] == eos for t in got) >= len(tm.PAIRS) and min(map(len, got)) < n


def test_fast_decode_respects_stop_tokens_and_max_new_tokens(models):
    import torch
    from transformers import StaticCache

    be = TransformersBackend(model=models["base"], fast_decode=True, static_cache=True, max_new_tokens=12)
    enc = be._pad(_rows(be, SQLS[:3]))
    steps = be._steps()

    def run(max_new, stop, every=decoding.EOS_CHECK_EVERY):
        cache = StaticCache(config=be.model.config, max_cache_len=enc["input_ids"].shape[1] + max_new)
        with torch.no_grad():
            return decoding.generate(
                steps,
                cache,
                enc["input_ids"],
                enc["attention_mask"],
                max_new_tokens=max_new,
                stop_ids=stop,
                check_every=every,
            )

    free = run(12, set())
    assert free.shape == (3, 12)
    assert torch.equal(run(5, set()), free[:, :5])  # max_new_tokens cuts, never changes, the tokens
    stop = {int(free[0, 2]), int(free[1, 3]), int(free[2, 1])}
    ends = [next(i for i, t in enumerate(full) if t in stop) for full in free.tolist()]
    for every in (1, 3, 8):
        out = run(12, stop, every)
        for row, full, end in zip(out.tolist(), free.tolist(), ends):
            assert row[: end + 1] == full[: end + 1]  # same tokens up to and including the stop token
            assert set(row[end + 1 :]) <= {be.tokenizer.pad_token_id}  # then padding only
        # every row stopped by token max(ends): the host notices at its next look (each `every` steps)
        assert out.shape[1] == (max(ends) // every + 1) * every


def test_fast_decode_sampling_is_seeded_and_follows_top_k_top_p(models):
    be = TransformersBackend(
        model=models["base"], fast_decode=True, static_cache=True, temperature=1.0, seed=3, max_new_tokens=16
    )
    rows = _rows(be, SQLS[:2])
    first, second = be.generate_tokens(rows, temperature=1.0), be.generate_tokens(rows, temperature=1.0)
    assert first != second  # each sampled call draws anew
    again = TransformersBackend(
        model=models["base"], fast_decode=True, static_cache=True, temperature=1.0, seed=3, max_new_tokens=16
    )
    assert again.generate_tokens(rows, temperature=1.0) == first  # ... from a seed
    greedy = be.generate_tokens(rows)
    import torch

    logits = torch.randn(4, 50)
    for top_k, top_p in ((1, 1.0), (0, 1e-6)):  # a single surviving token: sampling is argmax
        probs = decoding.sample_probs(logits, torch.tensor(0.7), top_k, torch.tensor(top_p))
        assert torch.equal(decoding.draw(probs), logits.argmax(-1)) and torch.equal((probs > 0).sum(-1), torch.ones(4))
    probs = decoding.sample_probs(logits, 1.0, 5, 1.0)
    assert torch.equal((probs > 0).sum(-1), torch.full((4,), 5))
    assert greedy != first


def test_grouped_decode_attention_matches_repeated_kv():
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    class Attn:
        num_key_value_groups = 4

    torch.manual_seed(0)
    k, v = torch.randn(3, 2, 10, 16), torch.randn(3, 2, 10, 16)
    mask = torch.rand(3, 1, 1, 10) > 0.3
    mask[..., 0] = True
    q = torch.randn(3, 8, 1, 16)
    got, _ = decoding.grouped_sdpa(Attn(), q, k, v, mask, scaling=0.25)
    want, _ = sdpa_attention_forward(Attn(), q, k, v, mask, scaling=0.25)
    assert got.shape == want.shape == (3, 1, 8, 16)
    assert torch.allclose(got, want, atol=1e-6)
    q5 = torch.randn(3, 8, 5, 16)  # more than one query token (prefill): transformers' own SDPA, unchanged
    assert torch.equal(
        decoding.grouped_sdpa(Attn(), q5, k, v, None, scaling=0.25)[0],
        sdpa_attention_forward(Attn(), q5, k, v, None, scaling=0.25)[0],
    )


def test_fast_decode_step_compiles_as_one_graph_without_recompiles(models):
    """The decode step traces with fullgraph=True (what CUDA graphs need), once per shape, same tokens."""
    import torch
    from torch._dynamo.utils import counters

    be = TransformersBackend(model=models["base"], fast_decode=True, static_cache=True, max_new_tokens=10)
    rows = _rows(be, SQLS[:3])
    want = be.generate_tokens(rows)
    torch._dynamo.reset()
    counters.clear()  # other tests' compiled graphs are counted in the same process-wide counters
    be.loaded.steps[(True, True)] = decoding.Steps(
        be.model, be.tokenizer.pad_token_id, compile=True, fullgraph=True, backend="eager"
    )
    be.compile = True  # as on CUDA; the "eager" compile backend traces the graph without generating code
    try:
        assert be.generate_tokens(rows) == want
        graphs = counters["stats"]["unique_graphs"]
        assert graphs == 1
        assert be.generate_tokens(rows) == want and be.generate_tokens(rows[::-1]) == want[::-1]
        assert counters["stats"]["unique_graphs"] == graphs  # 3 calls x 9 steps of one (batch, cache) shape
        assert be.generate_tokens(rows[:1]) == want[:1]
        assert counters["stats"]["unique_graphs"] == graphs + 1  # another batch size: one more graph
        assert be.compile and be._fullgraph  # it did not fall back
    finally:
        be.loaded.steps.pop((True, True), None)
        torch._dynamo.reset()


def test_generation_options_the_loop_lacks_go_to_hf_generate(models):
    from transformers import GenerationConfig

    be = get_backend("transformers", model=models["base"], **FAST)
    assert decoding.unsupported_reason(be.model, GenerationConfig(temperature=0.6, top_p=0.95, do_sample=True)) is None
    assert "repetition_penalty" in decoding.unsupported_reason(be.model, GenerationConfig(repetition_penalty=1.3))
    assert "no_repeat_ngram_size" in decoding.unsupported_reason(be.model, GenerationConfig(no_repeat_ngram_size=3))


def test_backend_batch_size_chunks_without_changing_results(models):
    be = get_backend("transformers", model=models["base"], batch_size=2, **FAST)
    prompts = [be.prompt_for(_request(s)) for s in SQLS]
    assert be.generate(prompts) == gen(models["base"])


def test_sampling_is_configurable_and_seeded(models):
    be = get_backend("transformers", model=models["base"], temperature=1.0, seed=1, max_new_tokens=16)
    prompt = be.prompt_for(_request(SQLS[0]))
    first, second = be.generate([prompt]), be.generate([prompt])
    assert first != second  # each sampled call draws anew (retries need that)
    again = TransformersBackend(model=models["base"], temperature=1.0, seed=1, max_new_tokens=16)
    assert again.generate([prompt]) == first


def test_think_block_is_stripped_in_describe_and_stream(models):
    for sql, completion in tm.THINK_PAIRS:
        desc = completion.split("</think>")[1].strip()
        be = get_backend("transformers", model=models["fit"], max_new_tokens=60)
        raw = be.generate([be.prompt_for(_request(sql))])[0]
        assert raw.startswith("<think>") and raw.endswith(desc)  # the model really reasons first
        assert describe(sql, backend="transformers", model=models["fit"], max_new_tokens=60, cache=False).text == desc
        pieces = list(describe_stream(sql, backend="transformers", model=models["fit"], max_new_tokens=60))
        assert "".join(pieces) == desc and len(pieces) > 1


def test_unclosed_think_block_gives_no_text_and_says_why(models):
    d = describe(tm.THINK_PAIRS[0][0], backend="transformers", model=models["fit"], max_new_tokens=6, cache=False)
    assert d.text == ""
    assert any("reasoning did not finish" in w for w in d.warnings)


def test_crafted_generations_are_cleaned_by_the_guard(models):
    be = get_backend("transformers", model=models["base"], **FAST)
    req = _request(tm.PAIRS[1][0])
    prompt = be.prompt_for(req)
    want = tm.PAIRS[1][1]
    for raw in (
        prompt + want,
        f"<think>count rows</think>{want}",
        f"counting...</think>\n{want}",
        f"{want}\n### User\nmore",
        f"  {want}  ",
    ):
        assert be.guard(req, prompt, raw).text == want


def test_streaming_yields_pieces_that_join_to_the_description(models):
    sql, desc = tm.PAIRS[2]
    pieces = list(describe_stream(sql, backend="transformers", model=models["fit"], max_new_tokens=40))
    assert len(pieces) > 1 and "".join(pieces) == desc


def test_threads_share_one_backend_safely(models):
    be = get_backend("transformers", model=models["fit"], max_new_tokens=40)
    want = dict(tm.PAIRS)
    got, errors = {}, []

    def work(sql):
        try:
            got[sql] = describe(sql, backend=be, cache=False).text
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    seen = set()  # every forward runs on the model's one worker thread (CUDA graphs are per thread)
    hook = be.model.register_forward_pre_hook(lambda *_: seen.add(threading.current_thread().name))
    threads = [threading.Thread(target=work, args=(s,)) for s in want]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        hook.remove()
    assert not errors and got == want
    assert len(seen) == 1 and seen.pop().startswith("sql2nl-transformers")


# -- faithfulness guard -------------------------------------------------------------------------
def test_guard_warn_keeps_text_and_lists_what_is_missing(models):
    d = describe(SQLS[1], backend="transformers", model=models["base"], cache=False, **FAST)
    assert d.backend == "transformers" and d.faithfulness < 1
    assert any("may not mention" in w for w in d.warnings)


@pytest.mark.parametrize("mode", ["fallback", "retry"])
def test_guard_fallback_and_retry_answer_with_rules(models, mode):
    d = describe(
        SQLS[1], backend="transformers", model=models["base"], on_unfaithful=mode, retries=1, cache=False, **FAST
    )
    assert d.backend == "rules"
    assert d.text == describe(SQLS[1], cache=False).text
    assert any("answered with the rules describer" in w for w in d.warnings)


def test_cache_keeps_guard_and_sampling_options_apart(models):
    # Issue 16: the plugin's hand-built identity left out the guard options, top_p and seed, so a
    # warn call's cached answer came back to a later fallback call. The key is now derived.
    warn = describe(SQLS[1], backend="transformers", model=models["base"], **FAST)
    assert warn.backend == "transformers" and warn.faithfulness < 1.0
    fallback = describe(SQLS[1], backend="transformers", model=models["base"], on_unfaithful="fallback", **FAST)
    assert fallback.backend == "rules" and fallback.guard["fell_back"]
    for opts in ({"top_p": 0.5}, {"seed": 7}, {"candidates": 2}, {"min_faithfulness": 0.5}):
        a = get_backend("transformers", model=models["base"], **FAST)
        b = get_backend("transformers", model=models["base"], **FAST, **opts)
        assert a.identity != b.identity, opts


def test_guard_keeps_a_faithful_answer(models):
    sql, desc = tm.PAIRS[1]
    d = describe(
        sql, backend="transformers", model=models["fit"], on_unfaithful="fallback", max_new_tokens=40, cache=False
    )
    assert (d.text, d.backend, d.faithfulness, d.warnings) == (desc, "transformers", 1.0, [])


# An answer that says the opposite of its SQL: the guard must call it a contradiction, not an omission.
CONTRADICTING = ("SELECT name FROM singer WHERE age > 30", "Find the names of singers younger than 30.")


@pytest.fixture(scope="module")
def liar(models):
    return str(tm.overfit(models["base"], [CONTRADICTING], out_dir=Path(models["root"]) / "liar"))


def test_guard_warns_about_a_contradiction(liar):
    sql, taught = CONTRADICTING
    d = describe(sql, backend="transformers", model=liar, max_new_tokens=40, cache=False)
    assert d.text == taught and d.backend == "transformers" and d.faithfulness < 1
    assert "the description may contradict the SQL: comparison age > 30" in d.warnings


def test_guard_falls_back_on_a_contradiction_even_below_its_threshold(liar):
    sql, _ = CONTRADICTING
    d = describe(
        sql,
        backend="transformers",
        model=liar,
        max_new_tokens=40,
        cache=False,
        on_unfaithful="fallback",
        min_faithfulness=0.1,
    )
    assert d.backend == "rules" and d.text == describe(sql, cache=False).text
    assert any("contradicted" in w and "comparison age > 30" in w for w in d.warnings)


# -- errors -------------------------------------------------------------------------------------
def test_missing_model_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        describe("SELECT 1", backend="transformers", model=str(tmp_path / "nope"), cache=False)
    with pytest.raises(InvalidInputError, match="needs model="):
        describe("SELECT 1", backend="transformers", cache=False)


def test_directory_or_file_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelError, match="not a model directory"):
        describe("SELECT 1", backend="transformers", model=str(tmp_path), cache=False)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="llamacpp"):
        describe("SELECT 1", backend="transformers", model=str(gguf), cache=False)


def test_model_dir_without_weights(models, tmp_path):
    d = tmp_path / "noweights"
    d.mkdir()
    shutil.copy(Path(models["base"]) / "config.json", d)
    for f in Path(models["base"]).glob("tokenizer*"):
        shutil.copy(f, d)
    with pytest.raises(ModelError, match="no weights"):
        describe("SELECT 1", backend="transformers", model=str(d), cache=False)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_safetensors(models, tmp_path, damage):
    d = tmp_path / damage
    shutil.copytree(models["base"], d)
    weights = d / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(b"\xff" * 64 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt"):
        describe("SELECT 1", backend="transformers", model=str(d), cache=False)


def test_adapter_that_does_not_match_the_base(models, tmp_path):
    other = tm.build_tiny(tmp_path / "other", hidden_size=96, num_attention_heads=4)
    wrong = tm.make_lora_adapter(other, tmp_path / "wrong_adapter")
    with pytest.raises(ModelError, match="does not fit"):
        describe("SELECT 1", backend="transformers", model=models["base"], adapter=str(wrong), cache=False)
    with pytest.raises(ModelError, match="not a PEFT adapter"):
        describe("SELECT 1", backend="transformers", model=models["base"], adapter=models["base"], cache=False)


def test_run_dir_without_artifacts(tmp_path, models):
    run = tm.write_run_dir(tmp_path / "run", base_model=models["base"], adapter="adapter")
    with pytest.raises(ModelError, match="neither a merged model nor a LoRA adapter"):
        describe("SELECT 1", backend="transformers", model=str(run), cache=False)


def test_cuda_out_of_memory_says_what_to_lower(models, caplog):
    be = TransformersBackend(model=models["fit"], max_new_tokens=40)

    def only_small_batches(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None and ids.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    hook = be.model.register_forward_pre_hook(only_small_batches, with_kwargs=True)
    try:  # a batch that does not fit is split; the answers are the same
        got = describe_many([s for s, _ in tm.PAIRS], backend=be, cache=False)
        assert [d.text for d in got] == [d for _, d in tm.PAIRS]
        assert "retrying in halves" in caplog.text
    finally:
        hook.remove()

    def always(module, args, kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    hook = be.model.register_forward_pre_hook(always, with_kwargs=True)
    try:
        with pytest.raises(ModelError, match="Out of GPU memory.*max_new_tokens"):
            describe(tm.PAIRS[0][0], backend=be, cache=False)
        with pytest.raises(ModelError, match="Out of GPU memory"):
            list(describe_stream(tm.PAIRS[0][0], backend=be))
    finally:
        hook.remove()


def test_bad_options(models):
    with pytest.raises(InvalidInputError, match="no option .n_ctx."):
        describe("SELECT 1", backend="transformers", model=models["base"], n_ctx=4096, cache=False)
    with pytest.raises(InvalidInputError, match="dtype"):
        describe("SELECT 1", backend="transformers", model=models["base"], dtype="int3", cache=False)
    with pytest.raises(InvalidInputError, match="exceeds the model's context"):
        describe("SELECT 1", backend="transformers", model=models["base"], max_new_tokens=5000, cache=False)


def test_cli_describe_with_transformers(models):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    sql, desc = tm.PAIRS[3]
    res = CliRunner().invoke(
        cli, ["describe", "-b", "transformers", "-m", models["fit"], "-o", "max_new_tokens=40", "--no-cache", sql]
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip().endswith(desc)
    res = CliRunner().invoke(cli, ["describe", "-b", "transformers", "-m", "/no/such/model", "SELECT 1"])
    assert res.exit_code != 0 and "does not exist" in res.output and "Traceback" not in res.output


def test_one_bos_whether_the_template_or_the_tokenizer_writes_it(models):
    from tokenizers import processors
    from transformers import AutoTokenizer

    from sql2nl.prompt import PLAIN_CHAT_TEMPLATE, build_messages, encode_prompt, render_prompt

    tok = AutoTokenizer.from_pretrained(models["base"])
    bos = tok.bos_token_id
    tok._tokenizer.post_processor = processors.TemplateProcessing(  # a Llama-style tokenizer: adds BOS itself
        single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, bos)]
    )
    messages = build_messages("SELECT 1")
    for template in (PLAIN_CHAT_TEMPLATE, "{{ bos_token }}" + PLAIN_CHAT_TEMPLATE):
        tok.chat_template = template
        ids = encode_prompt(tok, render_prompt(messages, tok))
        assert ids[0] == bos and ids[1] != bos


def test_chinese_prompts_go_through_the_chat_template(models):
    be = get_backend("transformers", model=models["base"], **FAST)
    from sql2nl.backends import Request
    from sql2nl.facts import extract

    prompt = be.prompt_for(Request("SELECT name FROM singer", tuple(extract("SELECT name FROM singer")), "zh"))
    assert prompt.startswith("### System\n你") and prompt.endswith("### Assistant\n")
    d = describe(
        "SELECT name FROM singer", backend="transformers", model=models["base"], language="zh", cache=False, **FAST
    )
    assert d.language == "zh"


def test_package_version_is_importable():
    import sql2nl_transformers

    assert sql2nl_transformers.__version__ and sql2nl.__name__ == "sql2nl"


@pytest.mark.slow
def test_compiled_decode_equals_eager(models):
    """compile=True (the CUDA default) goes through torch.compile; on a CPU it compiles too (minutes), same text."""
    prompts = [
        get_backend("transformers", model=models["base"]).render(sql2nl.prompt.build_messages(s)) for s in SQLS[:2]
    ]
    eager = TransformersBackend(model=models["base"], static_cache=True, compile=False, max_new_tokens=8)
    compiled = TransformersBackend(model=models["base"], compile=True, max_new_tokens=8)
    assert compiled.fast_decode  # the CUDA path: own decode loop, its step compiled
    assert compiled.generate(prompts) == eager.generate(prompts)
    assert compiled.compile and compiled._fullgraph  # it really compiled (one graph) rather than falling back
