// Compare view: issue-rate change per class, issues new in the other audit and gone since the base.
"use strict";

(() => {
  const { api, setImage, el, pct, num, fixed, showError } = LA;
  const $ = id => document.getElementById(id);
  const q = new URLSearchParams(location.search);
  $("base").value = q.get("base") || "";
  $("other").value = q.get("other") || "";

  async function run(base, other) {
    let cmp, datasets;
    try {
      cmp = await api(`/v1/audits/${base}/compare/${other}`, { limit: 50 });
      datasets = await Promise.all([api(`/v1/datasets/${cmp.base.dataset_id}`), api(`/v1/datasets/${cmp.other.dataset_id}`)]);
    } catch (err) { showError($("compare-page"), err); return; }
    $("compare-results").hidden = false;
    const names = cmp.class_names;
    const signed = v => (v > 0 ? "+" : "") + pct(v, 2);
    const card = (label, value, sub) => el("div", { class: "card stat" }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
    $("compare-cards").replaceChildren(
      card("Base issue rate", pct(cmp.base.issue_rate, 2), el("a", { href: `/dashboard/audits/${cmp.base.id}` }, datasets[0].name)),
      card("Other issue rate", pct(cmp.other.issue_rate, 2), el("a", { href: `/dashboard/audits/${cmp.other.id}` }, datasets[1].name)),
      card("Change", el("span", { class: cmp.issue_rate_change > 0 ? "up" : "down" }, signed(cmp.issue_rate_change)), `matched by ${cmp.matched_by}`),
      card("New issues", num(cmp.num_new), "flagged only in other"),
      card("Gone issues", num(cmp.num_gone), "flagged only in base"),
      card("Kept", num(cmp.num_kept), "flagged in both"));
    $("class-change").replaceChildren(Charts.diverging(cmp.classes.map(c => c.issue_rate_change), names, { format: signed }));
    $("compare-classes").querySelector("tbody").replaceChildren(...cmp.classes.map(c => el("tr", {},
      el("td", {}, `${c.class_id}: ${c.class_name}`), el("td", { class: "num" }, pct(c.base_issue_rate, 2)),
      el("td", { class: "num" }, pct(c.other_issue_rate, 2)),
      el("td", { class: "num " + (c.issue_rate_change > 0 ? "up" : "down") }, signed(c.issue_rate_change)))));
    const rows = (items, side, ds) => items.map(it => {
      const r = it[side], o = it[side === "other" ? "base" : "other"];
      let thumb = null;
      if (ds.modality === "image") {
        thumb = el("img", { class: "thumb", alt: `example ${r.index}` });
        setImage(thumb, `/v1/datasets/${ds.id}/examples/${r.index}/image?size=56`);
      }
      return el("tr", {}, el("td", {}, thumb), el("td", { class: "mono" }, it.key),
        el("td", {}, el("span", { class: "label-change" }, el("span", { class: "given" }, names[r.given_label]),
          el("span", { class: "arrow" }, "→"), el("span", { class: "suggested" }, names[r.suggested_label]))),
        el("td", { class: "num" }, fixed(r.quality_score, 3)),
        el("td", { class: "num muted" }, o ? `${side === "other" ? "was" : "now"} ${fixed(o.quality_score, 3)}` : "absent"));
    });
    $("new-title").textContent = `New issues (${num(cmp.num_new)})`;
    $("gone-title").textContent = `Gone issues (${num(cmp.num_gone)})`;
    $("new-issues").querySelector("tbody").replaceChildren(...rows(cmp.new_issues, "other", datasets[1]));
    $("gone-issues").querySelector("tbody").replaceChildren(...rows(cmp.gone_issues, "base", datasets[0]));
  }

  $("compare-form").onsubmit = e => {
    e.preventDefault();
    location.search = `?base=${encodeURIComponent($("base").value.trim())}&other=${encodeURIComponent($("other").value.trim())}`;
  };
  if ($("base").value && $("other").value) run($("base").value, $("other").value);
})();
