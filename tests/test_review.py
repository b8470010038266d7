"""Human evaluation: the rating sheet from a real tiny run, rated in a real headless Chromium, imported back.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package;
it is skipped without them. Everything else runs anywhere the training package does.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from pathlib import Path

import pytest
from skips import require, unavailable

require("torch")
require("sql2nl_training")
require("krippendorff")
require("scipy")

import part2_fixtures as fx  # noqa: E402

from sql2nl.errors import InvalidInputError  # noqa: E402

pytestmark = pytest.mark.slow  # trains a tiny model (seconds) and generates with it


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    """A tiny trained run and a review sheet of 4 of its 5 validation items."""
    from sql2nl_training.review import export_review

    tmp = tmp_path_factory.mktemp("review")
    run = fx.tiny_run(tmp)
    folder = export_review(run, n=4, seed=1, progress=False)
    return run, folder


def _items(folder: Path):
    from sql2nl_training.review import load_items

    return load_items(folder)


def _write_ratings(path: Path, rid: str, run: Path, rater: str, scores: dict[str, tuple]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review_id", "item_id", "rater", "faithful", "fluent", "comment", "run"])
        for item, (faithful, fluent) in scores.items():
            w.writerow([rid, item, rater, faithful, fluent, "", str(run)])
    return path


def test_export_writes_a_self_contained_page_and_a_sheet(sheet):
    from sql2nl import describe
    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    run, folder = sheet
    meta, items = _items(folder)
    assert meta["n"] == len(items) == 4 and meta["run"] == str(run)
    valid_sqls = {p["sql"] for p in fx.VALID}
    for it in items.values():
        assert it["sql"] in valid_sqls
        assert it["reference"] == next(p["description"] for p in fx.VALID if p["sql"] == it["sql"])
        # the missing facts are exactly what the core's checker reports for the model's text
        assert it["missing"] == check(it["model"], extract(it["sql"])).missing
        assert it["rules"] == describe(it["sql"], backend="rules").text
    page = (folder / "review.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page
    assert meta["review_id"] in page
    rows = list(csv.DictReader((folder / "ratings.csv").open(encoding="utf-8")))
    assert [r["item_id"] for r in rows] == sorted(items)
    assert all(r["faithful"] == r["fluent"] == "" and r["run"] == str(run) for r in rows)


def _chromium():
    require("selenium")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:  # .ci/run installs them
        unavailable("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    return chromium, driver


def _browser(tmp: Path, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp / 'profile'}",
    ):
        opts.add_argument(a)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    browser = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return browser


@pytest.fixture
def served(sheet):
    """The sheet's folder over http://127.0.0.1 (loopback only): a real origin for localStorage."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    _, folder = sheet
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/review.html"
    server.shutdown()
    server.server_close()


def _wait_for_file(folder: Path, pattern: str, timeout: float = 20.0) -> Path:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} downloaded into {folder}")


def test_rating_in_a_real_browser_survives_reload_and_exports_csv(sheet, served, tmp_path):
    from selenium.webdriver.common.by import By

    from sql2nl_training.review import import_ratings

    run, folder = sheet
    meta, items = _items(folder)
    ids = sorted(items)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = _browser(tmp_path, downloads)
    try:
        browser.get(served)
        assert browser.find_element(By.ID, "progress").text == f"0 / {len(ids)} rated"
        browser.find_element(By.ID, "rater").send_keys("ana")
        chosen = {ids[0]: (5, 4), ids[1]: (2, 3), ids[2]: (4, 5)}
        for item, (faithful, fluent) in chosen.items():
            for q, s in (("faithful", faithful), ("fluent", fluent)):
                browser.find_element(By.CSS_SELECTOR, f"input[name='{q}-{item}'][value='{s}']").click()
        browser.find_element(By.CSS_SELECTOR, f"textarea[data-comment='{ids[1]}']").send_keys('drops the "year", sadly')
        assert browser.find_element(By.ID, "progress").text == f"3 / {len(ids)} rated"

        # nothing is lost when the page is opened again: ratings live in localStorage (a fresh
        # navigation, not a reload, so the browser's form restoration cannot be what keeps them)
        stored = json.loads(browser.execute_script(f"return localStorage.getItem('sql2nl-review:{meta['review_id']}')"))
        assert stored["rater"] == "ana" and stored["ratings"][ids[0]] == {"faithful": 5, "fluent": 4}
        browser.get("about:blank")
        browser.get(served)
        assert browser.find_element(By.ID, "rater").get_attribute("value") == "ana"
        for item, (faithful, fluent) in chosen.items():
            assert browser.find_element(
                By.CSS_SELECTOR, f"input[name='faithful-{item}'][value='{faithful}']"
            ).is_selected()
            assert browser.find_element(By.CSS_SELECTOR, f"input[name='fluent-{item}'][value='{fluent}']").is_selected()
        assert browser.find_element(By.ID, "progress").text == f"3 / {len(ids)} rated"

        browser.find_element(By.ID, "export").click()
        got = _wait_for_file(downloads, "ratings-ana-*.csv")
    finally:
        browser.quit()

    rows = list(csv.DictReader(got.open(encoding="utf-8")))
    assert {r["item_id"]: (int(r["faithful"]), int(r["fluent"])) for r in rows} == chosen
    assert {r["rater"] for r in rows} == {"ana"} and {r["review_id"] for r in rows} == {meta["review_id"]}
    assert next(r for r in rows if r["item_id"] == ids[1])["comment"] == 'drops the "year", sadly'
    assert all(r["sql"] == items[r["item_id"]]["sql"] and r["run"] == str(run) for r in rows)

    # a second rater on the spreadsheet; both files fold into the run's report
    ben = _write_ratings(
        tmp_path / "ben.csv",
        meta["review_id"],
        run,
        "ben",
        {ids[0]: (5, 2), ids[1]: (2, 5), ids[2]: (4, 1), ids[3]: (3, 3)},
    )
    summary = import_ratings([got, ben])
    assert summary["raters"] == 2 and summary["items_rated"] == 4 and summary["ratings"] == 7
    # ana and ben agree exactly on "faithful": alpha is 1; on "fluent" they disagree
    assert summary["faithful"]["krippendorff_alpha"] == 1.0
    assert summary["fluent"]["krippendorff_alpha"] < 0.5
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["metrics"]["human"]["faithful"]["mean"] == pytest.approx((5 + 2 + 4 + 5 + 2 + 4 + 3) / 7, abs=1e-3)
    report = (run / "report.md").read_text()
    assert report.count("## Human evaluation") == 1 and "| faithful | 3.57 | 7 | 1.000 |" in report


def test_agreement_and_correlation_match_the_libraries():
    import krippendorff
    import numpy as np
    from scipy.stats import spearmanr

    from sql2nl_training.review import Rating, summarize

    items = {
        f"i{k}": {"faithfulness": f, "bleu": b} for k, (f, b) in enumerate([(100, 30), (50, 10), (80, 25), (20, 5)])
    }
    a = [5, 2, 4, 1]
    b = [4, 2, 5, 1]
    ratings = [Rating(f"i{k}", "a", x, None) for k, x in enumerate(a)] + [
        Rating(f"i{k}", "b", x, None) for k, x in enumerate(b)
    ]
    s = summarize(ratings, items)["faithful"]
    want = krippendorff.alpha(
        reliability_data=np.array([a, b], float), level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5]
    )
    assert s["krippendorff_alpha"] == pytest.approx(want, abs=1e-3)
    means = [(x + y) / 2 for x, y in zip(a, b)]
    assert s["spearman_faithfulness"]["rho"] == pytest.approx(spearmanr(means, [100, 50, 80, 20]).statistic, abs=1e-3)
    assert s["spearman_faithfulness"]["rho"] > 0.9
    # one rater: agreement is undefined, not a number made up
    one = summarize([r for r in ratings if r.rater == "a"], items)["faithful"]
    assert one["krippendorff_alpha"] is None and not math.isnan(one["mean"])


def test_import_refuses_bad_ratings_and_names_the_place(sheet, tmp_path):
    from sql2nl_training.review import import_ratings

    run, folder = sheet
    meta, items = _items(folder)
    first = sorted(items)[0]
    bad = _write_ratings(tmp_path / "bad.csv", meta["review_id"], run, "cy", {first: (7, 3)})
    with pytest.raises(InvalidInputError, match=r"bad\.csv, line 2: faithful must be a whole number from 1 to 5"):
        import_ratings([bad])
    other = _write_ratings(tmp_path / "other.csv", "0123456789ab", run, "cy", {first: (3, 3)})
    with pytest.raises(InvalidInputError, match="rates review sheet 0123456789ab"):
        import_ratings([other])
    unknown = _write_ratings(tmp_path / "unknown.csv", meta["review_id"], run, "cy", {"i9999": (3, 3)})
    with pytest.raises(InvalidInputError, match="item 'i9999' is not in"):
        import_ratings([unknown])
    blank = _write_ratings(tmp_path / "blank.csv", meta["review_id"], run, "cy", {first: ("", "")})
    with pytest.raises(InvalidInputError, match="hold no scores yet"):
        import_ratings([blank])
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="not a ratings file"):
        import_ratings([tmp_path / "notes.csv"], run=run)


def test_the_blank_sheet_can_be_filled_in_and_imported(sheet, tmp_path):
    """The ratings.csv written by export, filled in as a spreadsheet would, imports as-is (rater from file name)."""
    from sql2nl_training.review import import_ratings

    run, folder = sheet
    rows = list(csv.DictReader((folder / "ratings.csv").open(encoding="utf-8")))
    for r, s in zip(rows, (1, 2, 3, 4)):
        r["faithful"], r["fluent"] = s, 5 - s + 1
    path = tmp_path / "dora.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    s = import_ratings([path])
    assert s["raters"] == 1 and s["items_rated"] == 4 and s["faithful"]["mean"] == 2.5
    merged = list(csv.DictReader((run / "review" / "ratings-merged.csv").open(encoding="utf-8")))
    assert {r["rater"] for r in merged} == {"dora"}
    assert (run / "report.md").read_text().count("## Human evaluation") == 1


def test_review_commands(sheet, tmp_path):
    """`sql2nl review export` and `sql2nl review import` from the command line; mistakes are one-line errors."""
    from click.testing import CliRunner

    from sql2nl.cli import cli

    run, _ = sheet
    res = CliRunner().invoke(
        cli, ["review", "export", "--run", str(run), "--n", "2", "--out", str(tmp_path / "sheet"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.split() == [str(tmp_path / "sheet" / "review.html"), str(tmp_path / "sheet" / "ratings.csv")]
    res = CliRunner().invoke(cli, ["review", "import", str(tmp_path / "nope.csv"), "--run", str(run)])
    assert res.exit_code == 1 and "Ratings file" in res.output and "does not exist" in res.output
    assert "Traceback" not in res.output
