// The audits list: filters, cursor paging, live refresh while audits run, pick two to compare.
"use strict";

(() => {
  const { api, el, pct, num, fixed, duration, when, badge, showError } = LA;
  const tbody = document.querySelector("#audits-table tbody");
  const cursors = [null];          // cursor of each page seen so far; the last is the current page's
  const datasetNames = {};
  const selected = new Set();
  let timer = null;

  const filters = () => {
    const day = id => document.getElementById(id).value;
    return {
      status: document.getElementById("filter-status").value,
      dataset_id: document.getElementById("filter-dataset").value.trim(),
      created_after: day("filter-after") ? day("filter-after") + "T00:00:00Z" : "",
      created_before: day("filter-before") ? day("filter-before") + "T23:59:59Z" : "",
    };
  };

  async function datasetName(id) {
    if (!(id in datasetNames)) {
      datasetNames[id] = api(`/v1/datasets/${id}`).then(d => d.name).catch(() => id);
    }
    return datasetNames[id];
  }

  async function load() {
    clearTimeout(timer);
    let page;
    try {
      page = await api("/v1/audits", { view: "brief", limit: 25, cursor: cursors[cursors.length - 1], ...filters() });
    } catch (err) { showError(document.getElementById("audits-page"), err); return; }
    tbody.replaceChildren();
    for (const a of page.items) {
      const h = a.headline || {};
      const link = el("a", { href: `/dashboard/audits/${a.id}`, class: "mono audit-link" }, a.id);
      const box = el("input", { type: "checkbox", disabled: a.status !== "done", checked: selected.has(a.id) });
      box.onchange = () => { box.checked ? selected.add(a.id) : selected.delete(a.id); updateCompare(); };
      const status = a.status === "running"
        ? el("span", {}, badge(a.status), " ", pct(a.progress.fraction, 0)) : badge(a.status);
      const dsCell = el("td", {}, a.dataset_id);
      datasetName(a.dataset_id).then(n => { dsCell.textContent = n; dsCell.title = a.dataset_id; });
      tbody.append(el("tr", { "data-id": a.id, onclick: e => { if (e.target.tagName !== "INPUT") location.href = link.href; } },
        el("td", {}, box), el("td", {}, link), dsCell, el("td", {}, status), el("td", {}, when(a.created_at)),
        el("td", { class: "num" }, num(h.num_examples)), el("td", { class: "num" }, num(h.num_issues)),
        el("td", { class: "num" }, pct(h.issue_rate, 2)), el("td", { class: "num" }, fixed(h.health_score, 3)),
        el("td", {}, h.backbone || (a.status === "done" ? "own pred_probs" : a.options.backbone)),
        el("td", { class: "num" }, duration(h.duration_seconds))));
    }
    if (!page.items.length) tbody.append(el("tr", {}, el("td", { colspan: 11, class: "muted" }, "No audits match.")));
    document.getElementById("prev-page").disabled = cursors.length <= 1;
    const next = document.getElementById("next-page");
    next.disabled = !page.next_cursor;
    next.dataset.cursor = page.next_cursor || "";
    document.getElementById("page-info").textContent = `page ${cursors.length}`;
    if (page.items.some(a => a.status === "running" || a.status === "queued")) timer = setTimeout(load, 2000);
  }

  function updateCompare() {
    const b = document.getElementById("compare-selected");
    b.disabled = selected.size !== 2;
    b.textContent = selected.size === 2 ? "Compare selected" : `Compare selected (${selected.size}/2)`;
  }

  document.getElementById("compare-selected").onclick = () => {
    const [newer, older] = [...selected].sort().reverse();
    location.href = `/dashboard/compare?base=${older}&other=${newer}`;
  };
  document.getElementById("next-page").onclick = e => { cursors.push(e.target.dataset.cursor); load(); };
  document.getElementById("prev-page").onclick = () => { cursors.pop(); load(); };
  for (const id of ["filter-status", "filter-dataset", "filter-after", "filter-before"]) {
    document.getElementById(id).onchange = () => { cursors.splice(1); load(); };
  }
  const q = new URLSearchParams(location.search);
  if (q.get("dataset_id")) document.getElementById("filter-dataset").value = q.get("dataset_id");
  if (q.get("status")) document.getElementById("filter-status").value = q.get("status");
  updateCompare();
  load();
})();
