// The "new audit" page: upload a dataset (the form's fields come from the API's own OpenAPI document), derive
// a noisy copy, start an audit; the server's problem+json messages are shown beside the fields they name.
"use strict";

(() => {
  const { api, el, num } = LA;
  const KNOWN_UPLOAD_FIELDS = new Set(["file", "labels_file"]);
  let dataset = null;            // the dataset the next steps work on

  function authHeaders() {
    const k = LA.apiKey();
    return k ? { Authorization: "Bearer " + k } : {};
  }

  // A problem+json answer as an Error with its field errors; the network's own failures as they are.
  async function problem(r) {
    let body = {};
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    const err = new Error(body.detail || r.statusText);
    err.status = r.status;
    err.errors = body.errors || [];
    return err;
  }

  async function postJSON(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
                                  body: JSON.stringify(body) });
    if (!r.ok) throw await problem(r);
    return r.json();
  }

  // multipart upload with a progress bar (fetch cannot report upload progress)
  function upload(form, bar) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/datasets");
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = e => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
      xhr.onload = () => {
        const fake = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
        if (xhr.status === 201) resolve(JSON.parse(xhr.responseText));
        else problem(fake).then(reject);
      };
      xhr.onerror = () => reject(new Error("the upload failed: the server could not be reached"));
      xhr.send(form);
    });
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error, .error").forEach(n => n.remove());
    form.querySelectorAll("[aria-invalid]").forEach(n => n.removeAttribute("aria-invalid"));
  }

  // Each field error goes beside its input (by name); the rest, and the summary, above the form.
  function showProblem(form, err) {
    let placed = false;
    for (const e of err.errors || []) {
      const name = String(e.field || "").split(/[.\[]/)[0];
      const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.closest("label").append(el("span", { class: "field-error", role: "alert" }, e.message || err.message));
        placed = true;
      }
    }
    form.prepend(el("div", { class: "error", role: "alert" },
      `${err.status ? err.status + ": " : ""}${err.message}` + (placed ? "" : fieldsText(err))));
  }

  const fieldsText = err => (err.errors || []).filter(e => e.field).map(e => ` (${e.field}: ${e.message})`).join("");

  function useDataset(d, note) {
    dataset = d;
    const info = document.getElementById("dataset-info");
    info.hidden = false;
    info.replaceChildren(el("span", { class: "mono" }, d.id), ` · ${d.name || "unnamed"} · ${num(d.rows)} rows · `,
      `${d.classes} classes · ${d.modality}` + (d.has_true_labels ? " · true labels known" : "") + (note ? ` · ${note}` : ""));
    document.getElementById("step-noise").hidden = d.modality === undefined;
    document.getElementById("step-audit").hidden = false;
    document.getElementById("audit-target").textContent = `of ${d.name || d.id}`;
  }

  function options(select, values, chosen) {
    select.replaceChildren(...values.map(v => el("option", { value: v, selected: v === chosen }, v)));
  }

  // The upload form's extra fields (name, format, label column, and whatever the API adds) from /openapi.json.
  async function buildForms() {
    const spec = await api("/openapi.json");
    const schemas = spec.components.schemas;
    const enumOf = ref => (schemas[ref.split("/").pop()] || {}).enum || [];
    const body = spec.paths["/v1/datasets"].post.requestBody.content["multipart/form-data"].schema;
    const slot = document.getElementById("upload-fields");
    for (const [name, prop] of Object.entries(body.properties)) {
      if (KNOWN_UPLOAD_FIELDS.has(name) || prop.format === "binary") continue;
      const title = name.replace(/_/g, " ");
      const input = prop.enum
        ? el("select", { name, id: `upload-${name}` }, ...prop.enum.map(v => el("option", { value: v === "auto" ? "" : v }, v)))
        : el("input", { name, id: `upload-${name}`, placeholder: prop.default || "", size: 18 });
      slot.append(el("label", { title: prop.description || "" }, title[0].toUpperCase() + title.slice(1), " ", input));
    }
    const audit = schemas.AuditIn.properties;
    options(document.getElementById("audit-backbone"), enumOf(audit.backbone.$ref), audit.backbone.default);
    for (const f of ["folds", "seed", "neighbours"]) {
      const input = document.getElementById(`audit-${f}`);
      input.min = audit[f].minimum; input.max = audit[f].maximum; input.value = audit[f].default;
      if (audit[f].description) input.title = audit[f].description;
    }
    const ensemble = document.getElementById("audit-ensemble"), models = audit.ensemble.anyOf[0];
    ensemble.min = models.minimum; ensemble.max = models.maximum; ensemble.title = audit.ensemble.description;
    const noise = schemas.NoiseIn.properties;
    options(document.getElementById("noise-kind"), enumOf(noise.kind.$ref).filter(k => k !== "matrix"), noise.kind.default);
  }

  async function listDatasets() {
    const select = document.getElementById("existing-dataset");
    const page = await api("/v1/datasets", { limit: 100 });
    for (const d of page.items) select.append(el("option", { value: d.id }, `${d.name || d.id} (${num(d.rows)} rows)`));
    select.onchange = async () => { if (select.value) useDataset(await api(`/v1/datasets/${select.value}`)); };
  }

  document.getElementById("upload-form").onsubmit = async e => {
    e.preventDefault();
    const form = e.target;
    clearErrors(form);
    const data = new FormData(form);
    for (const [k, v] of [...data.entries()]) if (v === "" || (v instanceof File && !v.name)) data.delete(k);
    const bar = document.getElementById("upload-progress");
    bar.hidden = false; bar.value = 0;
    const button = document.getElementById("upload-button");
    button.disabled = true;
    try {
      useDataset(await upload(data, bar), "uploaded");
    } catch (err) { showProblem(form, err); }
    finally { button.disabled = false; bar.hidden = true; }
  };

  document.getElementById("noise-form").onsubmit = async e => {
    e.preventDefault();
    const form = e.target;
    clearErrors(form);
    const body = { kind: form.kind.value, rate: Number(form.rate.value), seed: Number(form.seed.value) };
    try {
      useDataset(await postJSON(`/v1/datasets/${dataset.id}/noise`, body), `noisy copy of ${dataset.id}`);
    } catch (err) { showProblem(form, err); }
  };

  document.getElementById("audit-form").onsubmit = async e => {
    e.preventDefault();
    const form = e.target;
    clearErrors(form);
    const body = { dataset_id: dataset.id, backbone: form.backbone.value, folds: Number(form.folds.value),
                   seed: Number(form.seed.value) };
    if (form.epochs.value !== "") body.epochs = Number(form.epochs.value);
    if (form.ensemble.value !== "") body.ensemble = Number(form.ensemble.value);
    if (Number(form.neighbours.value) > 0) body.neighbours = Number(form.neighbours.value);
    try {
      const audit = await postJSON("/v1/audits", body);
      location.href = `/dashboard/audits/${audit.id}`;
    } catch (err) { showProblem(form, err); }
  };

  Promise.all([buildForms(), listDatasets()]).catch(err => LA.showError(document.getElementById("new-page"), err));
})();
