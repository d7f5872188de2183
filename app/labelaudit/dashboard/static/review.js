// Review mode of the issue browser: one key or click per decision (accept the suggestion, keep, exclude,
// unsure, relabel to another class), moving to the next example; the review's progress bar; the decision
// history on the example detail. Decisions go to PUT/DELETE /v1/audits/{id}/decisions.
"use strict";

const Review = (() => {
  const { api, send, el, pct, num, when } = LA;
  const $ = id => document.getElementById(id);
  let ctx = null, selected = 0, selectFirst = false, busy = false, progressTimer = null;
  const KINDS = { keep: "keep", exclude: "exclude", unsure: "unsure", relabel: "relabel" };

  function init(context) {
    ctx = context;
    document.addEventListener("keydown", onKey);
    $("apply-review").onclick = apply;
    progress();
  }

  // The corrected dataset (decisions applied), with links to download it and to audit it with this audit's options.
  async function apply() {
    let ds;
    try { ds = await send("POST", `/v1/audits/${ctx.auditId}/apply`, {}); } catch (err) { flash(err.message); return; }
    const reaudit = el("button", { id: "reaudit", onclick: async () => {
      const options = {};  // this audit's options, so the before / after comparison is fair
      for (const k of ["backbone", "folds", "epochs", "seed", "device", "rank_method", "filter_by"]) {
        if (ctx.options && ctx.options[k] !== null && ctx.options[k] !== undefined) options[k] = ctx.options[k];
      }
      try {
        const a = await send("POST", "/v1/audits", { dataset_id: ds.id, ...options });
        location.href = `/dashboard/audits/${a.id}`;
      } catch (err) { flash(err.message); }
    } }, "Audit it");
    $("apply-result").replaceChildren(`Corrected dataset ${ds.id}: ${num(ds.rows)} examples, ` +
      `${num(ds.review.relabelled)} relabelled, ${num(ds.review.excluded)} excluded · `,
      el("a", { id: "download-corrected", href: `/v1/datasets/${ds.id}/download` }, "download"), " · ", reaudit);
  }

  function rows() { return [...document.querySelectorAll("#issues-table tbody tr[data-index]")]; }

  function decisionText(d) {
    if (!d || !d.decision) return "";
    return d.decision === "relabel" ? `relabel → ${d.label}` : d.decision;
  }

  // The decision cell of one row: the current decision and one button per choice.
  function cell(row, d) {
    const index = +row.dataset.index;
    const stop = fn => e => { e.stopPropagation(); fn(); };
    const pick = el("select", { class: "relabel-to", "aria-label": "relabel to", onclick: e => e.stopPropagation(),
      onchange: e => { if (e.target.value !== "") decide(row, "relabel", ctx.names[+e.target.value]); } },
      el("option", { value: "" }, "relabel to…"), ctx.names.map((n, i) => el("option", { value: i }, `${i}: ${n}`)));
    return el("td", { class: "decision-col" },
      el("span", { class: "decision " + (d && d.decision ? d.decision : "none"), "data-decision": d && d.decision || "" },
        decisionText(d)),
      el("span", { class: "decide" },
        el("button", { class: "accept", title: "relabel to the suggested class (A)", onclick: stop(() => decide(row, "relabel")) }, "✓"),
        el("button", { class: "keep", title: "the given label is right (K)", onclick: stop(() => decide(row, "keep")) }, "keep"),
        el("button", { class: "exclude", title: "drop the example (X)", onclick: stop(() => decide(row, "exclude")) }, "exclude"),
        pick));
  }

  // Add the decision cells to the rendered page (decisions fetched for its examples in one request).
  async function decorate(decided) {
    const list = rows();
    let byIndex = decided;
    if (!byIndex && list.length) {
      const url = new URL(`/v1/audits/${ctx.auditId}/decisions`, location.origin);
      url.searchParams.set("state", "all");
      url.searchParams.set("limit", String(list.length));
      list.forEach(r => url.searchParams.append("index", r.dataset.index));
      byIndex = {};
      try {
        (await api(url.pathname + url.search)).items.forEach(d => { byIndex[d.index] = d; });
      } catch (_) { byIndex = {}; }
    }
    list.forEach(r => { r.querySelector(".decision-col")?.remove(); r.append(cell(r, byIndex[+r.dataset.index])); });
    if (selectFirst) { selected = 0; selectFirst = false; }
    select(Math.min(selected, Math.max(list.length - 1, 0)));
  }

  function select(i) {
    const list = rows();
    list.forEach(r => r.classList.remove("selected"));
    if (!list.length) return;
    selected = Math.max(0, Math.min(i, list.length - 1));
    list[selected].classList.add("selected");
    list[selected].scrollIntoView({ block: "nearest" });
  }

  // Record one decision on a row, show it, refresh the progress and move to the next example.
  async function decide(row, decision, label) {
    if (busy) return;
    busy = true;
    const item = { index: +row.dataset.index, decision };
    if (label !== undefined) item.label = label;
    try {
      const res = await send("PUT", `/v1/audits/${ctx.auditId}/decisions`, { items: [item] });
      const d = res.items[0];
      row.querySelector(".decision-col").replaceWith(cell(row, d));
      row.dataset.decision = d.decision;
      next(row);
      soon();
    } catch (err) { flash(err.message); } finally { busy = false; }
  }

  async function undo(row) {
    try {
      const res = await send("DELETE", `/v1/audits/${ctx.auditId}/decisions`, { items: [{ index: +row.dataset.index }] });
      row.querySelector(".decision-col").replaceWith(cell(row, res.items[0]));
      row.dataset.decision = "";
      soon();
    } catch (err) { flash(err.message); }
  }

  function next(row) {
    const list = rows();
    const i = list.indexOf(row);
    if (i + 1 < list.length) { select(i + 1); return; }
    const more = $("next-page");
    if (more && !more.disabled) { selectFirst = true; more.click(); }
  }

  function flash(message) { $("review-progress-text").textContent = "error: " + message; }

  // The progress counts the whole audit: refreshed once after a burst of decisions, not after each key.
  function soon() {
    clearTimeout(progressTimer);
    progressTimer = setTimeout(progress, 300);
  }

  async function progress() {
    let p;
    try { p = (await api(`/v1/audits/${ctx.auditId}/decisions`, { limit: 1 })).progress; } catch (_) { return; }
    const of = p.num_issues || p.num_examples;
    $("review-progress-bar").style.width = pct(of ? Math.min(p.reviewed_issues / of, 1) : 0, 1);
    $("review-progress-text").textContent =
      `reviewed ${num(p.reviewed_issues)} of ${num(p.num_issues)} issues (${num(p.reviewed)} examples) · ` +
      `relabelled ${num(p.relabelled)} · kept ${num(p.kept)} · excluded ${num(p.excluded)} · unsure ${num(p.unsure)}` +
      (p.agreement === null ? "" : ` · agreement with the suggestion ${pct(p.agreement, 0)}`);
    $("review-bar").dataset.reviewed = p.reviewed;
  }

  function onKey(e) {
    if (!ctx || e.ctrlKey || e.metaKey || e.altKey || !$("example-overlay").hidden) return;
    if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName)) return;
    const list = rows();
    const row = list[selected];
    if (!row) return;
    const key = e.key.toLowerCase();
    const acts = {
      a: () => decide(row, "relabel"), k: () => decide(row, "keep"), x: () => decide(row, "exclude"),
      u: () => decide(row, "unsure"), z: () => undo(row), enter: () => ctx.open(+row.dataset.index),
      j: () => select(selected + 1), arrowdown: () => select(selected + 1),
      arrowup: () => select(selected - 1), n: () => next(row),
    };
    if (acts[key]) { e.preventDefault(); acts[key](); return; }
    if (/^[0-9]$/.test(e.key) && +e.key < ctx.names.length) { e.preventDefault(); decide(row, "relabel", ctx.names[+e.key]); }
  }

  // The decision history of one example, for its detail panel.
  async function history(index) {
    let h;
    try { h = await api(`/v1/audits/${ctx.auditId}/decisions/history`, { index }); } catch (_) { return null; }
    const items = h.events.length
      ? h.events.map(e => el("li", {}, `v${e.version} · ${e.decision ? decisionText(e) : "undone"} · ${e.decided_by} · ${when(e.decided_at)}`,
        e.note ? ` · “${e.note}”` : ""))
      : [el("li", { class: "muted" }, "no decision yet")];
    return el("div", { id: "example-history" }, el("h2", {}, "Review decisions"), el("ol", { class: "history" }, items));
  }

  return { init, decorate, history, KINDS };
})();
