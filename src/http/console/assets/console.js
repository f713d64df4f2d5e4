// strom web console: the small, dependency-free script behind the pages.
// - forms with data-api send JSON to /api/v1 with the page's CSRF token;
// - JSON values are pretty-printed and collapsible, binary shown as base64 or hex;
// - the live tail and the group page follow server-sent events.
"use strict";
(function () {
  const meta = (n) => (document.querySelector(`meta[name="${n}"]`) || {}).content;
  const token = meta("csrf-token");

  function flash(text, ok) {
    const f = document.getElementById("flash");
    if (!f) return;
    const d = document.createElement("div");
    d.className = ok ? "ok" : "error";
    d.textContent = text;
    f.replaceChildren(d);
  }

  async function call(method, url, body) {
    const opts = { method, headers: { "x-csrf-token": token } };
    if (body !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (_) { /* empty body */ }
    if (!r.ok) throw new Error((data && data.message) || `HTTP ${r.status}`);
    return data;
  }

  function lines(text) {
    const out = {};
    for (const line of (text || "").split("\n")) {
      const t = line.trim();
      if (!t) continue;
      const i = t.indexOf("=");
      if (i < 0) throw new Error(`expected name=value: ${t}`);
      out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    return out;
  }

  function bodyOf(form, kind, submitter) {
    const f = new FormData(form);
    const v = (n) => { const x = f.get(n); return x === null ? "" : String(x); };
    switch (kind) {
      case "create-topic": {
        const b = { name: v("name"), configs: lines(v("configs")) };
        if (v("partitions")) b.partitions = Number(v("partitions"));
        return { body: b };
      }
      case "config": {
        const name = v("name");
        return { body: v("value") === "" ? { delete: [name] } : { set: { [name]: v("value") } } };
      }
      case "produce": {
        const b = { key: v("key") === "" ? null : v("key"), value: v("value"),
          headers: Object.entries(lines(v("headers"))).map(([key, value]) => ({ key, value })) };
        if (v("partition") !== "") b.partition = Number(v("partition"));
        return { body: b };
      }
      case "delete-topic": {
        if (v("confirm") !== form.dataset.name) throw new Error("type the topic's name to confirm");
        return { url: `${form.dataset.api}?confirm=${encodeURIComponent(v("confirm"))}` };
      }
      case "delete-offsets":
        return { url: form.dataset.api + encodeURIComponent(v("topic")) };
      case "reset": {
        const b = { topic: v("topic"), to: v("to"), execute: submitter && submitter.value === "execute" };
        if (v("value") !== "") b.value = Number(v("value"));
        return { body: b };
      }
      default: {
        const b = {};
        for (const [k, x] of f.entries()) if (x !== "") b[k] = isNaN(Number(x)) ? x : Number(x);
        return { body: b };
      }
    }
  }

  function after(form, data, kind) {
    if (kind === "produce") {
      const r = document.getElementById("produce-result");
      if (r) r.textContent = `produced to partition ${data.partition} at offset ${data.offset}`;
      flash(`produced to partition ${data.partition} at offset ${data.offset}`, true);
      return;
    }
    if (kind === "reset") {
      const tb = document.querySelector("#reset-preview-table tbody");
      tb.replaceChildren(...data.partitions.map((p) => {
        const tr = document.createElement("tr");
        tr.dataset.partition = p.partition;
        for (const x of [p.partition, p.current, p.target]) {
          const td = document.createElement("td"); td.className = "num"; td.textContent = x; tr.appendChild(td);
        }
        return tr;
      }));
      document.getElementById("reset-execute").disabled = data.executed;
      flash(data.executed ? "offsets reset" : "preview: press Execute to commit these offsets", true);
      return;
    }
    const then = form.dataset.then;
    flash((data && data.message) || "done", true);
    if (then === "reload") location.reload();
    else if (then) location.href = then.replace("{name}", encodeURIComponent((data && data.name) || ""));
  }

  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!form.dataset || !form.dataset.api) return;
    ev.preventDefault();
    const kind = form.dataset.kind;
    try {
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const { url, body } = bodyOf(form, kind, ev.submitter);
      const data = await call(form.dataset.method, url || form.dataset.api, body);
      after(form, data, kind);
    } catch (e) {
      flash(e.message, false);
    }
  });

  // Values: JSON pretty-printed and collapsible; binary as base64 or hex.
  function hex(b64) {
    const s = atob(b64);
    let out = "";
    for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(2, "0") + (i % 2 ? " " : "");
    return out.trim();
  }
  function renderCell(td) {
    const enc = td.dataset.encoding;
    if (td.dataset.raw === undefined) td.dataset.raw = td.textContent;
    const raw = td.dataset.raw;
    if (enc === "json") {
      let pretty = raw;
      try { pretty = JSON.stringify(JSON.parse(raw), null, 2); } catch (_) { /* as is */ }
      const d = document.createElement("details");
      d.open = pretty.length < 400;
      const s = document.createElement("summary");
      s.textContent = raw.length > 80 ? raw.slice(0, 80) + "…" : raw;
      const pre = document.createElement("pre");
      pre.className = "json";
      pre.textContent = pretty;
      d.append(s, pre);
      td.replaceChildren(d);
    } else if (enc === "base64") {
      const fmt = (document.getElementById("binary-format") || {}).value || "base64";
      td.textContent = fmt === "hex" ? hex(raw) : raw;
    }
  }
  function renderAll(root) {
    root.querySelectorAll("td.value, td.key").forEach(renderCell);
    root.querySelectorAll("td.ts").forEach((td) => {
      const ms = Number(td.dataset.ts);
      if (ms > 0) td.title = new Date(ms).toISOString();
    });
  }
  document.addEventListener("change", (ev) => {
    if (ev.target.id === "binary-format") document.querySelectorAll("td[data-encoding=base64]").forEach(renderCell);
  });

  function cell(tr, cls, text, enc) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (enc) td.dataset.encoding = enc;
    td.textContent = text === null || text === undefined ? "null" : text;
    tr.appendChild(td);
    return td;
  }
  function recordRow(r) {
    const tr = document.createElement("tr");
    tr.dataset.partition = r.partition;
    tr.dataset.offset = r.offset;
    cell(tr, "num", r.partition);
    cell(tr, "num offset", r.offset);
    cell(tr, "ts", r.timestamp).dataset.ts = r.timestamp;
    cell(tr, "key", r.key, r.key_encoding);
    cell(tr, "headers", r.headers.map((h) => `${h.key}=${h.value}`).join(" "));
    cell(tr, "value", r.value, r.value_encoding);
    renderAll(tr);
    return tr;
  }

  // Live tail: server-sent events; Pause stops following, Start resumes at the end.
  function setupTail() {
    const start = document.getElementById("tail-start");
    if (!start) return;
    const pause = document.getElementById("tail-pause");
    const status = document.getElementById("tail-status");
    const body = document.querySelector("#tail-table tbody");
    let es = null;
    start.addEventListener("click", () => {
      if (es) return;
      es = new EventSource(start.dataset.src);
      status.textContent = "live";
      start.disabled = true; pause.disabled = false;
      es.addEventListener("records", (ev) => {
        for (const r of JSON.parse(ev.data)) body.prepend(recordRow(r));
        while (body.children.length > 500) body.lastChild.remove();
      });
      es.onerror = () => { status.textContent = "reconnecting…"; };
      es.onopen = () => { status.textContent = "live"; };
    });
    pause.addEventListener("click", () => {
      if (es) es.close();
      es = null;
      status.textContent = "paused";
      start.disabled = false; pause.disabled = true;
    });
  }

  // The group page: offsets, lag and state from the stream, and the lag chart.
  function setupGroup() {
    const live = document.getElementById("group-live");
    if (!live) return;
    const svg = document.getElementById("lag-chart");
    let points = [];
    try { points = JSON.parse(svg.dataset.history || "[]"); } catch (_) { points = []; }
    const draw = () => {
      const pts = points.slice(-360);
      const max = Math.max(1, ...pts);
      const step = pts.length > 1 ? 560 / (pts.length - 1) : 560;
      document.getElementById("lag-line").setAttribute("points",
        pts.map((v, i) => `${(i * step).toFixed(1)},${(118 - (v / max) * 114).toFixed(1)}`).join(" "));
    };
    draw();
    const es = new EventSource(live.dataset.src);
    es.addEventListener("group", (ev) => {
      const g = JSON.parse(ev.data);
      document.getElementById("group-state").textContent = g.state;
      document.getElementById("group-members").textContent = g.members.length;
      document.getElementById("group-lag").textContent = g.lag;
      const tbody = document.querySelector("#group-offsets tbody");
      for (const o of g.offsets) {
        const key = `${o.topic}/${o.partition}`;
        let tr = tbody.querySelector(`tr[data-tp="${CSS.escape(key)}"]`);
        if (!tr) {
          tr = document.createElement("tr");
          tr.dataset.tp = key;
          cell(tr, "", o.topic); cell(tr, "num", o.partition); cell(tr, "num committed", "");
          cell(tr, "num end", ""); cell(tr, "num lag", ""); cell(tr, "member", "");
          tbody.appendChild(tr);
        }
        tr.querySelector(".committed").textContent = o.committed;
        tr.querySelector(".end").textContent = o.end_offset;
        tr.querySelector(".lag").textContent = o.lag;
        tr.querySelector(".member").textContent = o.member || "";
      }
      points.push(g.lag);
      draw();
    });
  }

  function setupFilter() {
    const f = document.getElementById("config-filter");
    if (!f) return;
    f.addEventListener("input", () => {
      const q = f.value.toLowerCase();
      document.querySelectorAll("#broker-configs tbody tr").forEach((tr) => {
        tr.hidden = q !== "" && !tr.dataset.config.includes(q);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    renderAll(document);
    setupTail();
    setupGroup();
    setupFilter();
  });
})();
