// One audit: live progress while it runs; when done, summary cards, heatmap, class chart, histogram,
// class table, and the issue browser (filters, keyset paging, thumbnails, example detail, review mode: review.js).
"use strict";

(() => {
  const { api, setImage, el, pct, num, fixed, duration, badge, showError } = LA;
  const auditId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const page = document.getElementById("audit-page");
  const $ = id => document.getElementById(id);
  let audit, dataset, names = [], matrices = null, isImage = false;
  const cursors = [null];

  document.title = `labelaudit · ${auditId}`;
  $("audit-title").textContent = auditId;

  async function start() {
    try {
      audit = await api(`/v1/audits/${auditId}`);
      dataset = await api(`/v1/datasets/${audit.dataset_id}`);
    } catch (err) { showError(page, err); return; }
    names = dataset.class_names;
    isImage = dataset.modality === "image";
    $("audit-sub").replaceChildren("dataset ", el("a", { href: `/dashboard?dataset_id=${dataset.id}` }, dataset.name),
      ` · ${num(dataset.rows)} examples · ${dataset.classes} classes · ${dataset.modality}`,
      dataset.noise ? ` · injected ${dataset.noise.kind} noise ${pct(dataset.noise.rate, 0)}` : "",
      ...(dataset.review ? [" · corrected from audit ", el("a", { id: "lineage-audit", href: `/dashboard/audits/${dataset.review.audit_id}` },
        dataset.review.audit_id), ` (${num(dataset.review.decisions_applied)} decisions applied: ${num(dataset.review.relabelled)} relabelled, ` +
        `${num(dataset.review.excluded)} excluded) · `, el("a", { id: "compare-before", href:
        `/dashboard/compare?base=${dataset.review.audit_id}&other=${auditId}` }, "compare before / after")] : []));
    showColumns();
    follow();
  }

  // A table's schema: every column's role and type, and the rows left out for want of a label.
  function showColumns() {
    if (!dataset.columns) return;
    $("columns-section").hidden = false;
    const missing = dataset.missing_labels && dataset.missing_labels.count;
    $("columns-note").textContent = (dataset.id_column ? `Examples keyed by ${dataset.id_column}. ` : "")
      + (missing ? `${num(missing)} rows with no label were left out.` : "");
    $("columns-table").querySelector("tbody").replaceChildren(...dataset.columns.map(c =>
      el("tr", {}, el("td", {}, c.name), el("td", {}, c.role), el("td", {}, c.type),
        el("td", { class: "num" }, pct(c.missing_share, 0)), el("td", { class: "num" }, num(c.distinct)),
        el("td", { class: "muted" }, c.reason))));
  }

  // Poll while queued or running; show results once done.
  async function follow() {
    $("audit-status").replaceChildren(badge(audit.status));
    if (audit.status === "queued" || audit.status === "running") {
      $("progress-section").hidden = false;
      const p = audit.progress || {};
      $("progress-bar").style.width = pct(p.fraction || 0, 1);
      const parts = [p.stage || audit.status, pct(p.fraction || 0, 0)];
      if (p.fold) parts.push(`fold ${p.fold}/${p.folds}`);
      if (p.epoch) parts.push(`epoch ${p.epoch}/${p.epochs}`);
      if (p.message && !p.fold) parts.push(p.message);
      $("progress-text").textContent = parts.join(" · ");
      setTimeout(async () => {
        try { audit = await api(`/v1/audits/${auditId}`); } catch (err) { showError(page, err); return; }
        follow();
      }, 1000);
      return;
    }
    $("progress-section").hidden = true;
    if (audit.status !== "done") {
      showError(page, new Error(`This audit ${audit.status}: ${(audit.error || {}).message || "no results"}`));
      return;
    }
    try { await results(); } catch (err) { showError(page, err); }
  }

  async function results() {
    const [classes, nm, hist] = await Promise.all([
      api(`/v1/audits/${auditId}/classes`), api(`/v1/audits/${auditId}/noise_matrix`),
      api(`/v1/audits/${auditId}/histogram`, { bins: 20 })]);
    matrices = nm;
    $("results").hidden = false;
    cards();
    drawHeatmap();
    $("heatmap-kind").onchange = drawHeatmap;
    const rates = classes.classes.map(c => c.issue_rate);
    const worst = rates.indexOf(Math.max(...rates));
    $("class-chart").replaceChildren(Charts.bars(rates, names, {
      format: v => pct(v, 1), highlight: i => i === worst, onBar: i => setFilters({ given: i, flag: "true" }) }));
    $("histogram").replaceChildren(Charts.histogram(hist.counts, hist.issue_counts, hist.edges, {
      onBin: i => setFilters({ min: hist.edges[i], max: hist.edges[i + 1], flag: "" }) }));
    classTable(classes.classes);
    for (const sel of [$("filter-given"), $("filter-suggested")]) {
      names.forEach((n, i) => sel.append(el("option", { value: i }, `${i}: ${n}`)));
    }
    if (!audit.summary.num_issues) $("filter-flag").value = "";
    if (!names.length || !audit.evaluation) document.querySelectorAll(".true-col").forEach(n => n.remove());
    if (!isImage) document.querySelector("#issues-table th.img-col").textContent = "";
    Review.init({ auditId, names, open: openExample, options: audit.options });
    for (const id of ["filter-given", "filter-suggested", "filter-flag", "filter-min", "filter-max", "filter-sort",
      "filter-limit", "filter-review"]) $(id).onchange = () => { cursors.splice(1); loadRows(); };
    $("reset-filters").onclick = () => setFilters({ flag: audit.summary.num_issues ? "true" : "" });
    $("next-page").onclick = e => { cursors.push(e.target.dataset.cursor); loadRows(); };
    $("prev-page").onclick = () => { cursors.pop(); loadRows(); };
    loadRows();
  }

  // "3 models per fold, agree on 98.2%" for an ensemble; nothing for one model
  function ensembleNote(s) {
    const m = s.ensemble;
    if (!m || !m.members || m.members < 2) return "";
    return `${s.device ? s.device + ", " : ""}${m.members} models per fold, agree on ${pct(m.agreement, 1)}`;
  }

  function cards() {
    const s = audit.summary, e = audit.evaluation, t = audit.timings || {};
    const card = (label, value, sub, key) => el("div", { class: "card stat", "data-stat": key },
      el("div", { class: "label" }, label), el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
    const list = [
      card("Examples", num(s.num_examples), `${s.num_classes} classes`, "examples"),
      card("Issues flagged", num(s.num_issues), `${pct(s.issue_rate, 2)} of examples`, "issues"),
      card("Health score", fixed(s.health_score, 3), `~${num(s.estimated_num_issues)} estimated issues`, "health"),
      card("CV accuracy", pct(s.cv_accuracy, 1), s.folds ? `${s.folds}-fold, ${s.epochs} epochs` : "your pred_probs", "accuracy"),
      card("Backbone", s.backbone || "–", ensembleNote(s) || s.device || "", "backbone"),
      card("Duration", duration(t.worker_seconds || t.total_seconds), t.crossval_seconds ? `training ${duration(t.crossval_seconds)}` : "", "duration"),
    ];
    if (s.neighbours) {
      list.push(card("Neighbours disagree", pct(s.neighbours.disagreement_rate, 1),
        `${s.neighbours.k} nearest outvote the label; ${num(s.neighbours.flagged_disagreeing)} of them flagged`, "neighbours"));
    }
    if (e) {
      list.push(card("Average precision", fixed(e.average_precision, 3), "against the known true labels", "ap"));
      list.push(card("Precision / recall", `${fixed(e.precision, 2)} / ${fixed(e.recall, 2)}`, `F1 ${fixed(e.f1, 3)}`, "pr"));
    }
    $("summary-cards").replaceChildren(...list);
  }

  function drawHeatmap() {
    const kind = $("heatmap-kind").value;
    const m = matrices[kind];
    if (!m || !m.length) { $("heatmap").replaceChildren(el("p", { class: "muted" }, "Not stored for this audit.")); return; }
    const probability = kind === "noise_matrix";
    const trueCols = kind === "confident_joint" || probability;
    $("heatmap").replaceChildren(Charts.heatmap(m, names, {
      rowTitle: "given label", colTitle: trueCols ? "true label (estimated)" : "suggested label",
      format: probability ? (v => v.toFixed(2)) : (v => String(v)), log: !probability,
      onCell: (i, j) => setFilters({ given: i, suggested: j, flag: kind === "issues_given_vs_suggested" ? "true" : "" }),
    }));
  }

  function classTable(classes) {
    const tbody = document.querySelector("#class-table tbody");
    tbody.replaceChildren(...classes.map(c => el("tr", { onclick: () => setFilters({ given: c.class_id, flag: "true" }) },
      el("td", {}, `${c.class_id}: ${c.class_name}`), el("td", { class: "num" }, num(c.size)),
      el("td", { class: "num" }, num(c.num_issues)), el("td", { class: "num" }, pct(c.issue_rate, 2)),
      el("td", { class: "num" }, num(c.num_suggested)), el("td", { class: "num" }, pct(c.estimated_noise_rate, 1)),
      el("td", {}, c.top_confused_with ?? "–"))));
  }

  function setFilters({ given = "", suggested = "", flag = "true", min = "", max = "" }) {
    $("filter-given").value = given; $("filter-suggested").value = suggested; $("filter-flag").value = flag;
    $("filter-min").value = min === "" ? "" : (+min).toFixed(2);
    $("filter-max").value = max === "" ? "" : (+max).toFixed(2);
    cursors.splice(1);
    loadRows();
    $("browser").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function params() {
    const v = id => $(id).value;
    return { given_label: v("filter-given"), suggested_label: v("filter-suggested"), is_issue: v("filter-flag"),
      min_score: v("filter-min"), max_score: v("filter-max"), sort: v("filter-sort"), limit: v("filter-limit") };
  }

  async function loadRows() {
    const tbody = document.querySelector("#issues-table tbody");
    const review = $("filter-review").value;
    let data, decided = null;
    try {
      if (review) {  // decided / undecided examples: the review listing (same filters, rank order)
        const { sort, ...filters } = params();
        data = await api(`/v1/audits/${auditId}/decisions`, { ...filters, state: review,
          cursor: cursors[cursors.length - 1] });
        decided = {};
        data.items.forEach(d => { d.true_label = null; decided[d.index] = d; });
      } else {
        data = await api(`/v1/audits/${auditId}/issues`, { ...params(), cursor: cursors[cursors.length - 1] });
      }
    } catch (err) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "error" }, err.message)));
      return;
    }
    const showTrue = !!audit.evaluation;
    tbody.replaceChildren(...data.items.map(r => {
      let thumb = null;
      if (isImage) {
        thumb = el("img", { class: "thumb", alt: `example ${r.index}`, width: 40, height: 40 });
        setImage(thumb, `/v1/datasets/${dataset.id}/examples/${r.index}/image?size=56`);
      }
      const change = r.given_label === r.suggested_label
        ? el("span", { class: "label-change" }, r.given_class)
        : el("span", { class: "label-change" }, el("span", { class: "given" }, r.given_class),
          el("span", { class: "arrow" }, "→"), el("span", { class: "suggested" }, r.suggested_class));
      return el("tr", { "data-index": r.index, "data-rank": r.rank, "data-given": r.given_label, onclick: () => openExample(r.index) },
        el("td", {}, thumb), el("td", { class: "num" }, num(r.rank)), el("td", { class: "num mono" }, r.index),
        el("td", {}, change),
        el("td", { class: "num" }, fixed(r.quality_score, 3),
          el("span", { class: "scorebar" }, el("span", { style: `width:${Math.round(100 * r.quality_score)}%` }))),
        el("td", {}, r.is_issue ? el("span", { class: "badge issue" }, "issue") : ""),
        showTrue ? el("td", { class: "true-col" }, r.true_label === null ? "–" : names[r.true_label]) : null);
    }));
    if (!data.items.length) tbody.append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No examples match these filters.")));
    const limit = +$("filter-limit").value;
    const first = (cursors.length - 1) * limit;
    $("page-info").textContent = data.items.length
      ? `rows ${num(first + 1)}–${num(first + data.items.length)}` + (data.total !== null ? ` of ${num(data.total)}` : "") +
        ` · page ${cursors.length}`
      : "";
    $("prev-page").disabled = cursors.length <= 1;
    $("next-page").disabled = !data.next_cursor;
    $("next-page").dataset.cursor = data.next_cursor || "";
    await Review.decorate(decided);
  }

  async function openExample(index) {
    let ex;
    try { ex = await api(`/v1/audits/${auditId}/examples/${index}`, { top: Math.min(names.length, 10) }); }
    catch (err) { showError(page, err); return; }
    $("example-title").textContent = `Example ${ex.index}` + (ex.example_id ? ` (${ex.example_id})` : "") + ` · rank ${num(ex.rank)}`;
    let visual = null;
    if (ex.image_url) {
      visual = el("img", { class: "big", id: "example-image", alt: `example ${ex.index}`, width: 224, height: 224 });
      setImage(visual, ex.image_url + "?size=224");
    } else if (ex.fields) {  // a table: its columns as read, text included
      visual = el("table", { class: "grid", id: "example-features" },
        el("tbody", {}, Object.entries(ex.fields).map(([k, v]) =>
          el("tr", {}, el("td", {}, k), el("td", { class: typeof v === "number" ? "num" : "" },
            v === null ? "–" : typeof v === "number" ? fixed(v, 4) : String(v))))));
    } else if (ex.features) {
      const n = Math.min(ex.features.length, 40);
      visual = el("table", { class: "grid mono", id: "example-features" },
        el("tbody", {}, ex.features.slice(0, n).map((v, i) =>
          el("tr", {}, el("td", {}, (ex.feature_names || [])[i] ?? `x${i}`), el("td", { class: "num" }, fixed(v, 4))))));
    }
    const facts = el("div", {},
      el("p", {}, "Given ", el("strong", { class: "given-label" }, ex.given_class), " · suggested ",
        el("strong", { class: "suggested-label" }, ex.suggested_class),
        ex.true_class !== null ? [" · true ", el("strong", {}, ex.true_class)] : null),
      el("p", {}, `Quality score ${fixed(ex.quality_score, 4)} · `, ex.is_issue ? el("span", { class: "badge issue" }, "flagged issue") : "not flagged",
        ex.neighbour_score != null ? ` · neighbours agree ${fixed(ex.neighbour_score, 2)}` : null),
      el("h2", {}, "Class probabilities (out-of-sample)"),
      el("div", { class: "probs" }, ex.top_classes.map(p => el("div", { class: "row" },
        el("span", {}, `${p.class_id}: ${p.class_name}`),
        el("div", { class: "track" }, el("div", { class: "fill" + (p.class_id === ex.suggested_label ? " suggested" : p.class_id === ex.given_label ? " given" : ""),
          style: `width:${(100 * p.probability).toFixed(1)}%` })),
        el("span", { class: "num" }, pct(p.probability, 1))))));
    $("example-body").replaceChildren(el("div", { class: "example" }, visual, facts));
    $("example-overlay").hidden = false;
    const history = await Review.history(index);
    if (history) $("example-body").append(history);
  }

  $("example-close").onclick = () => { $("example-overlay").hidden = true; };
  $("example-overlay").onclick = e => { if (e.target.id === "example-overlay") $("example-overlay").hidden = true; };
  document.addEventListener("keydown", e => { if (e.key === "Escape") $("example-overlay").hidden = true; });
  start();
})();
