"""The rating page's template: one HTML file with inline CSS and JS, no network access.

``{{TITLE}}`` and ``{{DATA}}`` (the review as JSON) are filled in by :func:`sql2nl_training.review.render_html`.
Kept as a Python string so it ships inside the package without package-data configuration.
"""

TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f7f9; color: #1d232a; }
  header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #d8dde3; padding: .6rem 1rem;
           display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; z-index: 1; }
  header h1 { font-size: 1.05rem; margin: 0 1rem 0 0; }
  main { max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }
  .item { background: #fff; border: 1px solid #d8dde3; border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
  .item.done { border-left: 5px solid #2f8f4e; }
  pre { background: #f0f2f5; padding: .5rem; white-space: pre-wrap; word-break: break-word; margin: .3rem 0; }
  .label { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: #5b6572; margin-top: .5rem; }
  .model { font-size: 1.05rem; font-weight: 600; }
  .missing { color: #a33; }
  fieldset { border: 0; padding: 0; margin: .4rem 0; display: inline-block; margin-right: 2rem; }
  legend { font-weight: 600; }
  label.score { margin-right: .5rem; cursor: pointer; }
  textarea { width: 100%; min-height: 2.2rem; }
  details { margin-top: .3rem; }
  button { font: inherit; padding: .3rem .8rem; }
</style>
</head>
<body>
<header>
  <h1>{{TITLE}}</h1>
  <label>Your name <input id="rater" autocomplete="off" placeholder="rater"></label>
  <span id="progress"></span>
  <button id="export" type="button">Export ratings (CSV)</button>
</header>
<main>
  <p>Rate each <b>model description</b> against its SQL: <b>faithful</b> (1 = wrong or misses key parts,
  5 = says exactly what the query does) and <b>fluent</b> (1 = hard to read, 5 = natural English).
  The reference and the rules describer's text are there for comparison; "missing" lists what the
  automatic checker did not find in the text. Ratings are saved in this browser as you go; press
  <i>Export ratings</i> and send the CSV file when you are done.</p>
  <div id="items"></div>
</main>
<script id="review-data" type="application/json">{{DATA}}</script>
<script>
(function () {
  "use strict";
  var review = JSON.parse(document.getElementById("review-data").textContent);
  var KEY = "sql2nl-review:" + review.review_id;
  var QUESTIONS = ["faithful", "fluent"];
  var state;
  try { state = JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { state = {}; }
  state.rater = state.rater || "";
  state.ratings = state.ratings || {};

  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: keep in memory */ }
    progress();
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function rated(id) {
    var r = state.ratings[id] || {};
    return QUESTIONS.every(function (q) { return r[q]; });
  }
  function progress() {
    var n = review.items.filter(function (it) { return rated(it.item_id); }).length;
    document.getElementById("progress").textContent = n + " / " + review.items.length + " rated";
    review.items.forEach(function (it) {
      document.getElementById("card-" + it.item_id).classList.toggle("done", rated(it.item_id));
    });
  }

  var root = document.getElementById("items");
  review.items.forEach(function (it, n) {
    var card = el("section", {"class": "item", id: "card-" + it.item_id, "data-item": it.item_id});
    card.appendChild(el("div", {"class": "label"}, "Item " + (n + 1) + " of " + review.items.length + " (" + it.item_id + ") — SQL"));
    card.appendChild(el("pre", {}, it.sql));
    card.appendChild(el("div", {"class": "label"}, "Model description"));
    card.appendChild(el("div", {"class": "model"}, it.model || "(empty)"));
    if (it.missing && it.missing.length) {
      card.appendChild(el("div", {"class": "missing"}, "Missing according to the checker: " + it.missing.join("; ")));
    }
    var more = el("details");
    more.appendChild(el("summary", {}, "Reference and rules description"));
    more.appendChild(el("div", {"class": "label"}, "Reference"));
    more.appendChild(el("div", {}, it.reference));
    more.appendChild(el("div", {"class": "label"}, "Rules describer"));
    more.appendChild(el("div", {}, it.rules));
    card.appendChild(more);
    var r = state.ratings[it.item_id] = state.ratings[it.item_id] || {};
    QUESTIONS.forEach(function (q) {
      var fs = el("fieldset");
      fs.appendChild(el("legend", {}, q === "faithful" ? "Faithful?" : "Fluent?"));
      for (var s = 1; s <= 5; s++) {
        var lab = el("label", {"class": "score"});
        var inp = el("input", {type: "radio", name: q + "-" + it.item_id, value: String(s),
                               "data-question": q, "data-score": String(s)});
        if (r[q] === s) inp.checked = true;
        inp.addEventListener("change", function (ev) {
          r[ev.target.getAttribute("data-question")] = Number(ev.target.value);
          save();
        });
        lab.appendChild(inp);
        lab.appendChild(document.createTextNode(" " + s));
        fs.appendChild(lab);
      }
      card.appendChild(fs);
    });
    var note = el("textarea", {placeholder: "comment (optional)", "data-comment": it.item_id});
    note.value = r.comment || "";
    note.addEventListener("input", function () { r.comment = note.value; save(); });
    card.appendChild(note);
    root.appendChild(card);
  });

  var raterInput = document.getElementById("rater");
  raterInput.value = state.rater;
  raterInput.addEventListener("input", function () { state.rater = raterInput.value.trim(); save(); });

  function cell(v) {
    v = v === undefined || v === null ? "" : String(v);
    return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }
  function csv() {
    var cols = ["review_id", "item_id", "rater", "faithful", "fluent", "comment", "sql", "model_description", "run"];
    var lines = [cols.join(",")];
    review.items.forEach(function (it) {
      var r = state.ratings[it.item_id] || {};
      if (!r.faithful && !r.fluent && !r.comment) return;
      lines.push([review.review_id, it.item_id, state.rater, r.faithful || "", r.fluent || "", r.comment || "",
                  it.sql, it.model, review.run].map(cell).join(","));
    });
    return lines.join("\n") + "\n";
  }
  document.getElementById("export").addEventListener("click", function () {
    if (!state.rater) {
      var name = window.prompt("Your name (it goes into the CSV so ratings of several people can be told apart):", "");
      if (name) { state.rater = name.trim(); raterInput.value = state.rater; save(); }
    }
    var blob = new Blob([csv()], {type: "text/csv;charset=utf-8"});
    var a = el("a", {href: URL.createObjectURL(blob),
                     download: "ratings-" + (state.rater || "rater").replace(/[^A-Za-z0-9_-]+/g, "_") + "-" + review.review_id + ".csv"});
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  });
  save();
})();
</script>
</body>
</html>
"""
