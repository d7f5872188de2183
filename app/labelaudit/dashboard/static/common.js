// Shared helpers of the dashboard pages: API calls (with an optional API key), formatting, DOM building.
"use strict";

const LA = (() => {
  const KEY = "labelaudit.apiKey";

  function apiKey() { return localStorage.getItem(KEY) || ""; }

  function headers() {
    const k = apiKey();
    return k ? { Authorization: "Bearer " + k } : {};
  }

  // GET a /v1 path as JSON; throws an Error carrying the problem+json detail.
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
    }
    const r = await fetch(url, { headers: headers() });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
      if (r.status === 401) showKeyPrompt();
      const err = new Error(detail);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // PUT/POST/DELETE a JSON body to a /v1 path; the answer as JSON, or an Error carrying the problem's detail.
  async function send(method, path, body) {
    const r = await fetch(new URL(path, location.origin), {
      method, headers: { ...headers(), "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
      if (r.status === 401) showKeyPrompt();
      const err = new Error(detail);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // Point an <img> at an API image; with an API key the bytes are fetched with the header.
  function setImage(img, path) {
    if (!apiKey()) { img.src = path; return; }
    fetch(path, { headers: headers() }).then(r => r.blob()).then(b => { img.src = URL.createObjectURL(b); });
  }

  function showKeyPrompt() {
    const slot = document.querySelector("header.top .key");
    if (!slot || slot.querySelector("input")) return;
    slot.textContent = "";
    const input = el("input", { type: "password", placeholder: "API key", size: 18 });
    const save = el("button", {}, "Use key");
    save.onclick = () => { localStorage.setItem(KEY, input.value.trim()); location.reload(); };
    slot.append(input, " ", save);
  }

  // el("div", {class: "x", onclick: f}, child, "text", ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node[k] = v;
      else if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const pct = (x, d = 1) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(d) + "%";
  const num = (x) => (x === null || x === undefined) ? "–" : Number(x).toLocaleString("en-US");
  const fixed = (x, d = 3) => (x === null || x === undefined) ? "–" : Number(x).toFixed(d);

  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return s.toFixed(1) + " s";
    const m = Math.floor(s / 60);
    return m + " min " + Math.round(s - 60 * m) + " s";
  }

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
  }

  function badge(status) { return el("span", { class: "badge " + status, "data-status": status }, status); }

  function showError(where, err) {
    where.prepend(el("div", { class: "error", role: "alert" }, err.message || String(err)));
  }

  return { api, send, setImage, el, pct, num, fixed, duration, when, badge, showError, apiKey };
})();
