// Hand-written SVG charts: heatmap, bar chart, stacked histogram, diverging bars. No library.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function title(node, text) { node.append(svg("title", {}, text)); return node; }

  // White to deep blue; t in [0, 1].
  function blue(t) {
    const a = [247, 251, 255], b = [8, 48, 107];
    const c = a.map((x, i) => Math.round(x + (b[i] - x) * Math.max(0, Math.min(1, t))));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function short(name, n = 9) { name = String(name); return name.length > n ? name.slice(0, n - 1) + "…" : name; }

  /**
   * A k x k heatmap. matrix[i][j]: row i (y axis), column j (x axis).
   * opts: rowTitle, colTitle, format(v), log (colour by log1p), onCell(i, j), hideDiagonal.
   */
  function heatmap(matrix, names, opts = {}) {
    const k = names.length;
    const size = Math.max(14, Math.min(40, Math.floor(380 / Math.max(k, 1))));
    const left = 74, top = 18, bottom = 56;
    const w = left + k * size + 10, h = top + k * size + bottom;
    const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: "heatmap", role: "img" });
    const off = (i, j) => opts.hideDiagonal && i === j;
    let max = 0;
    matrix.forEach((row, i) => row.forEach((v, j) => { if (!off(i, j)) max = Math.max(max, v); }));
    const scale = v => max <= 0 ? 0 : opts.log ? Math.log1p(v) / Math.log1p(max) : v / max;
    const fmt = opts.format || (v => String(v));
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const v = matrix[i][j];
        const t = off(i, j) ? 0 : scale(v);
        const rect = svg("rect", {
          x: left + j * size, y: top + i * size, width: size - 1, height: size - 1,
          fill: off(i, j) ? "#e9ecf1" : blue(t), class: "cell", "data-row": i, "data-col": j, "data-value": v,
        });
        title(rect, `${opts.rowTitle || "row"} ${names[i]}, ${opts.colTitle || "column"} ${names[j]}: ${fmt(v)}`);
        if (opts.onCell) rect.addEventListener("click", () => opts.onCell(i, j));
        root.append(rect);
        if (k <= 12 && size >= 26) {
          root.append(svg("text", {
            x: left + j * size + size / 2 - 0.5, y: top + i * size + size / 2 + 4, "text-anchor": "middle",
            "font-size": 10, fill: t > 0.55 ? "#fff" : "#333", "pointer-events": "none",
          }, fmt(v)));
        }
      }
    }
    for (let i = 0; i < k; i++) {
      root.append(svg("text", { x: left - 6, y: top + i * size + size / 2 + 4, "text-anchor": "end", "font-size": 11 },
        short(names[i])));
      const x = left + i * size + size / 2, y = top + k * size + 12;
      root.append(svg("text", { x, y, "text-anchor": "end", "font-size": 11, transform: `rotate(-45 ${x} ${y})` },
        short(names[i])));
    }
    root.append(svg("text", { x: left + k * size / 2, y: h - 4, "text-anchor": "middle", "font-size": 11, fill: "#667085" },
      opts.colTitle || ""));
    root.append(svg("text", { x: 10, y: top + k * size / 2, "text-anchor": "middle", "font-size": 11, fill: "#667085",
      transform: `rotate(-90 10 ${top + k * size / 2})` }, opts.rowTitle || ""));
    return root;
  }

  /** Vertical bars. values: numbers; opts: format, onBar(i), highlight(i) -> bool, height. */
  function bars(values, labels, opts = {}) {
    const n = values.length;
    const bw = Math.max(8, Math.min(34, Math.floor(340 / Math.max(n, 1))));
    const left = 44, top = 12, height = opts.height || 180, bottom = 46;
    const w = left + n * bw + 10, h = top + height + bottom;
    const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: "bars", role: "img" });
    const max = Math.max(opts.max || 0, ...values, 1e-12);
    const fmt = opts.format || (v => String(v));
    for (let t = 0; t <= 4; t++) {
      const y = top + height - (t / 4) * height;
      root.append(svg("line", { x1: left, x2: w - 6, y1: y, y2: y, stroke: "#eef0f4" }));
      root.append(svg("text", { x: left - 5, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" },
        fmt(max * t / 4)));
    }
    values.forEach((v, i) => {
      const bh = (v / max) * height;
      const rect = svg("rect", {
        x: left + i * bw + 2, y: top + height - bh, width: bw - 4, height: Math.max(bh, 0.5),
        fill: opts.highlight && opts.highlight(i) ? "#c9372c" : "#5b7fd9", class: "bar", "data-index": i,
      });
      title(rect, `${labels[i]}: ${fmt(v)}`);
      if (opts.onBar) { rect.style.cursor = "pointer"; rect.addEventListener("click", () => opts.onBar(i)); }
      root.append(rect);
      const x = left + i * bw + bw / 2, y = top + height + 12;
      root.append(svg("text", { x, y, "text-anchor": "end", "font-size": 11, transform: `rotate(-45 ${x} ${y})` },
        short(labels[i])));
    });
    return root;
  }

  /** A histogram over [0, 1] with the flagged part of each bin stacked in red. */
  function histogram(counts, issueCounts, edges, opts = {}) {
    const n = counts.length;
    const left = 48, top = 12, width = opts.width || 340, height = opts.height || 180, bottom = 36;
    const w = left + width + 12, h = top + height + bottom;
    const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: "histogram", role: "img" });
    const max = Math.max(...counts, 1);
    const bw = width / n;
    for (let t = 0; t <= 4; t++) {
      const y = top + height - (t / 4) * height;
      root.append(svg("line", { x1: left, x2: left + width, y1: y, y2: y, stroke: "#eef0f4" }));
      root.append(svg("text", { x: left - 5, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" },
        Math.round(max * t / 4).toLocaleString("en-US")));
    }
    counts.forEach((c, i) => {
      const hAll = (c / max) * height, hBad = (issueCounts[i] / max) * height;
      const x = left + i * bw;
      const tip = `score ${edges[i].toFixed(2)}–${edges[i + 1].toFixed(2)}: ${c} examples, ${issueCounts[i]} flagged`;
      const ok = svg("rect", { x: x + 0.5, y: top + height - hAll, width: Math.max(bw - 1, 1), height: hAll - hBad,
        fill: "#8aa4e8", class: "bar", "data-bin": i });
      const bad = svg("rect", { x: x + 0.5, y: top + height - hBad, width: Math.max(bw - 1, 1), height: hBad,
        fill: "#c9372c", class: "bar issue", "data-bin": i });
      title(ok, tip); title(bad, tip);
      if (opts.onBin) for (const r of [ok, bad]) { r.style.cursor = "pointer"; r.addEventListener("click", () => opts.onBin(i)); }
      root.append(ok, bad);
    });
    for (let t = 0; t <= 4; t++) {
      const x = left + (t / 4) * width;
      root.append(svg("text", { x, y: top + height + 14, "text-anchor": "middle", "font-size": 10, fill: "#667085" },
        (t / 4).toFixed(2)));
    }
    root.append(svg("text", { x: left + width / 2, y: h - 4, "text-anchor": "middle", "font-size": 11, fill: "#667085" },
      "label quality score"));
    return root;
  }

  /** Horizontal bars around zero (e.g. issue-rate change per class): red up, green down. */
  function diverging(values, labels, opts = {}) {
    const n = values.length;
    const rowH = 20, left = 90, width = opts.width || 360, top = 6;
    const w = left + width + 60, h = top + n * rowH + 8;
    const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: "diverging", role: "img" });
    const max = Math.max(...values.map(Math.abs), 1e-9);
    const mid = left + width / 2;
    const fmt = opts.format || (v => String(v));
    root.append(svg("line", { x1: mid, x2: mid, y1: top, y2: h - 4, stroke: "#98a2b3" }));
    values.forEach((v, i) => {
      const y = top + i * rowH;
      const len = (Math.abs(v) / max) * (width / 2);
      const rect = svg("rect", { x: v >= 0 ? mid : mid - len, y: y + 3, width: Math.max(len, 0.5), height: rowH - 6,
        fill: v > 0 ? "#c9372c" : "#2e8540", class: "bar", "data-index": i });
      title(rect, `${labels[i]}: ${fmt(v)}`);
      root.append(rect);
      root.append(svg("text", { x: left - 6, y: y + rowH / 2 + 4, "text-anchor": "end", "font-size": 11 }, short(labels[i], 12)));
      root.append(svg("text", { x: v >= 0 ? mid + len + 4 : mid - len - 4, y: y + rowH / 2 + 4,
        "text-anchor": v >= 0 ? "start" : "end", "font-size": 10, fill: "#475467" }, fmt(v)));
    });
    return root;
  }

  return { heatmap, bars, histogram, diverging };
})();
