// litequeue dashboard: a small page over the JSON API (/api/...), live through server-sent events.
// No framework, no build step: every text from the store goes in through textContent.
"use strict";

const main = () => document.getElementById("main");
let info = { read_only: true };
let current = null; // { page, refresh }

// -- helpers -------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElementNS(tag === "svg" || attrs?.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "svg" || v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const svg = (tag, attrs, ...children) => h(tag, { ...attrs, svg: true }, ...children);

async function get(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function act(path, question) {
  if (!(await confirmAction(question))) return null;
  const r = await fetch(path, { method: "POST", headers: { "X-Litequeue-Action": "1" } });
  const body = await r.json();
  if (!r.ok) { toast(body.error || r.statusText, true); return null; }
  toast(`Done (${body.changed ?? "ok"} changed).`);
  if (current) current.refresh();
  return body;
}

function confirmAction(question) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = question;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function toast(text, error = false) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = "toast" + (error ? " error" : "");
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 3500);
}

const state = (s) => h("span", { class: `state ${s}`, "data-state": s }, s);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) if (seconds >= size) return (seconds / size).toFixed(1) + unit;
  return seconds.toFixed(1) + "s";
}
const jobLink = (id) => h("a", { href: `#/job/${encodeURIComponent(id)}`, "data-job": id }, id);
const actionButton = (label, path, question, danger = false) =>
  info.read_only ? null : h("button", { class: danger ? "danger" : "", "data-action": label.toLowerCase(), onclick: () => act(path, question) }, label);

function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map(([text, cls]) => h("th", { class: cls || "" }, text)))),
    h("tbody", {}, rows));
}

function render(...nodes) {
  main().replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

// -- pages ---------------------------------------------------------------------------------------

async function overviewPage() {
  const [ov, tp] = await Promise.all([get("/api/overview"), get("/api/throughput?minutes=60")]);
  const sum = (k) => ov.queues.reduce((n, q) => n + q[k], 0);
  const alive = ov.workers.filter((w) => w.status === "running").length;
  render(
    h("h1", {}, "Overview"),
    h("div", { class: "cards" },
      card("Due", sum("due"), "due"), card("Scheduled", sum("scheduled"), "scheduled"),
      card("Reserved", sum("reserved"), "reserved"), card("Running", sum("running"), "running"),
      card("Retrying", sum("retrying"), "retrying"), card("Held back", held(ov.held_back), "held_back"),
      card("Failed", sum("failed"), "failed"), card("Workers alive", alive, "workers")),
    h("h2", {}, "Finished per minute, last hour"),
    chart(tp),
    h("h2", {}, "Jobs per queue by state"),
    depthChart(ov.queues),
    h("h2", {}, "Queues"), queueTable(ov.queues),
    heldBackSection(ov.held_back),
  );
}

function card(label, n, key) {
  return h("div", { class: "card", "data-card": key }, h("div", { class: "muted" }, label), h("div", { class: "n" }, n));
}

const held = (entries) => entries.reduce((n, e) => n + e.waiting, 0);

// Each queue's jobs not finished, by state: one stacked bar per queue.
const DEPTHS = [["due", "#3949ab"], ["scheduled", "#9fa8da"], ["reserved", "#00838f"], ["running", "#1565c0"],
  ["retrying", "#b26a00"]];

function depthChart(queues) {
  const W = 900, row = 22, pad = 140, H = Math.max(queues.length, 1) * row + 10;
  const top = Math.max(1, ...queues.map((q) => DEPTHS.reduce((n, [k]) => n + q[k], 0)));
  const bars = queues.flatMap((q, i) => {
    let x = pad;
    const out = [svg("text", { x: 4, y: 5 + i * row + row * 0.65 }, q.queue)];
    for (const [key, colour] of DEPTHS) {
      if (!q[key]) continue;
      const w = Math.max((q[key] / top) * (W - pad - 60), 2);
      out.push(svg("rect", { x, y: 5 + i * row + 3, width: w, height: row - 6, fill: colour, "data-depth": `${q.queue}:${key}` },
        svg("title", {}, `${q.queue}: ${q[key]} ${key}`)));
      x += w;
    }
    out.push(svg("text", { x: x + 6, y: 5 + i * row + row * 0.65 }, String(DEPTHS.reduce((n, [k]) => n + q[k], 0))));
    return out;
  });
  return h("div", {},
    h("div", { class: "legend" }, DEPTHS.map(([key, colour]) => h("span", {}, h("span", { class: `swatch depth-${key}` }), key))),
    svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, "data-chart": "depths" }, ...bars));
}

function heldBackSection(entries) {
  const what = (e) => e.key !== null ? `${e.task} key ${e.key}` : e.task !== null ? `task ${e.task}` : `queue ${e.queue}`;
  return [h("h2", {}, "Held back by a limit"), table(
    [["Limit"], ["Of"], ["Jobs waiting", "num"], ["Why"]],
    entries.map((e) => h("tr", { "data-held": what(e) },
      h("td", {}, e.limit), h("td", {}, what(e)), h("td", { class: "num" }, e.waiting), h("td", {}, e.reason))),
    "No due job is held back by a rate or concurrency limit.")];
}

function chart(tp) {
  const W = 900, H = 180, pad = 28;
  const ok = tp.series.SUCCESS, bad = tp.series.FAILURE, rev = tp.series.REVOKED, ign = tp.series.IGNORED;
  const totals = ok.map((n, i) => n + bad[i] + rev[i] + ign[i]);
  const top = Math.max(1, ...totals);
  const bw = (W - pad * 2) / ok.length;
  const y = (n) => H - pad - (n / top) * (H - pad * 2);
  const bars = [];
  ok.forEach((n, i) => {
    const x = pad + i * bw;
    let base = 0;
    for (const [count, colour, name] of [[n, "#1f8a4c", "succeeded"], [bad[i], "#c62828", "failed"], [rev[i], "#b26a00", "revoked"], [ign[i], "#8a93a6", "ignored"]]) {
      if (!count) continue;
      bars.push(svg("rect", { x: x + 1, y: y(base + count), width: Math.max(bw - 2, 1), height: y(base) - y(base + count), fill: colour },
        svg("title", {}, `${tp.minutes[i]}: ${count} ${name}`)));
      base += count;
    }
  });
  return h("div", {},
    h("div", { class: "legend" },
      h("span", {}, h("span", { class: "swatch ok" }), "succeeded"), h("span", {}, h("span", { class: "swatch bad" }), "failed"),
      h("span", {}, h("span", { class: "swatch warn" }), "revoked"), h("span", {}, h("span", { class: "swatch ignored" }), "ignored")),
    svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, "data-chart": "throughput" },
      svg("line", { x1: pad, x2: W - pad, y1: H - pad, y2: H - pad, stroke: "#dde1ea" }),
      svg("text", { x: 4, y: pad }, String(top)), svg("text", { x: 4, y: H - pad }, "0"),
      svg("text", { x: pad, y: H - 8 }, when(tp.minutes[0])), svg("text", { x: W - pad - 120, y: H - 8 }, "now"),
      ...bars));
}

function queueTable(queues) {
  return table(
    [["Queue"], ["Due", "num"], ["Scheduled", "num"], ["Reserved", "num"], ["Running", "num"], ["Retrying", "num"], ["Failed", "num"], ["Oldest wait", "num"], ["Done/min", "num"], ["State"], [""]],
    queues.map((q) => h("tr", { "data-queue": q.queue },
      h("td", {}, h("a", { href: `#/jobs?queue=${encodeURIComponent(q.queue)}` }, q.queue)),
      h("td", { class: "num" }, q.due), h("td", { class: "num" }, q.scheduled),
      h("td", { class: "num", "data-col": "reserved" }, h("a", { href: `#/jobs?state=RESERVED&queue=${encodeURIComponent(q.queue)}` }, q.reserved)),
      h("td", { class: "num" }, q.running),
      h("td", { class: "num" }, q.retrying),
      h("td", { class: "num" }, h("a", { href: `#/jobs?state=FAILURE&queue=${encodeURIComponent(q.queue)}` }, q.failed)),
      h("td", { class: "num" }, age(q.oldest_waiting_seconds)),
      h("td", { class: "num" }, q.done_last_minute ?? "–"),
      h("td", {}, q.paused ? state("paused") : "active"),
      h("td", {},
        q.paused ? actionButton("Resume", `/api/queues/${encodeURIComponent(q.queue)}/resume`, `Resume queue ${q.queue}? Workers will claim from it again.`)
                 : actionButton("Pause", `/api/queues/${encodeURIComponent(q.queue)}/pause`, `Pause queue ${q.queue}? Workers stop claiming its jobs until it is resumed.`),
        " ",
        actionButton("Purge", `/api/queues/${encodeURIComponent(q.queue)}/purge`, `Delete every waiting job of queue ${q.queue}? This cannot be undone.`, true)))),
    "No queue holds jobs.");
}

async function queuesPage() {
  const [queues, heldBack] = await Promise.all([get("/api/queues"), get("/api/held-back")]);
  render(h("h1", {}, "Queues"), queueTable(queues), heldBackSection(heldBack));
}

async function workersPage() {
  const workers = await get("/api/workers");
  render(h("h1", {}, "Workers"), table(
    [["Worker"], ["Host"], ["PID", "num"], ["Concurrency", "num"], ["Queues"], ["Status"], ["Heartbeat", "num"], ["Done", "num"], ["Running now"]],
    workers.map((w) => h("tr", { "data-worker": w.name },
      h("td", {}, w.name), h("td", {}, w.hostname), h("td", { class: "num" }, w.pid), h("td", { class: "num" }, w.concurrency),
      h("td", {}, w.queues.join(", ")), h("td", {}, state(w.status)), h("td", { class: "num" }, age(w.heartbeat_age) + " ago"),
      h("td", { class: "num" }, w.processed),
      h("td", {}, w.active.length ? w.active.map((j) => h("div", {}, `${j.name} `, jobLink(j.id))) : h("span", { class: "muted" }, "idle")))),
    "No worker has run on this store in the last hour."));
}

function routeQuery() {
  const q = location.hash.split("?")[1] || "";
  return new URLSearchParams(q);
}

async function jobsPage() {
  const params = routeQuery();
  const page = await get("/api/jobs?" + params.toString());
  const field = (name, label, input) => h("label", {}, label, input);
  const stateSelect = h("select", { name: "state" }, h("option", { value: "" }, "any"),
    ...info.states.map((s) => h("option", { value: s, selected: params.get("state") === s }, s)));
  const form = h("form", { class: "filters", id: "filters", onsubmit: (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    location.hash = "#/jobs?" + next.toString();
  } },
    field("state", "State", stateSelect),
    field("task", "Task", h("input", { name: "task", list: "tasks", value: params.get("task") || "", placeholder: "any" })),
    field("queue", "Queue", h("input", { name: "queue", value: params.get("queue") || "", placeholder: "any", size: 10 })),
    field("sent_after", "Sent after (UTC)", h("input", { name: "sent_after", type: "datetime-local", value: params.get("sent_after") || "" })),
    field("search", "Search id or arguments", h("input", { name: "search", value: params.get("search") || "", size: 28 })),
    h("button", { type: "submit", id: "apply-filters" }, "Apply"),
    h("datalist", { id: "tasks" }, info.tasks.map((t) => h("option", { value: t }))));
  const rows = page.jobs.map((j) => h("tr", { "data-row": j.id },
    h("td", {}, jobLink(j.id)), h("td", {}, j.task), h("td", {}, j.queue), h("td", {}, state(j.state)),
    h("td", { class: "num" }, j.attempts), h("td", {}, when(j.sent_at)), h("td", {}, when(j.done_at)),
    h("td", { class: "muted" }, j.error || "")));
  const older = new URLSearchParams(params);
  if (page.next !== null) older.set("before", page.next);
  render(h("h1", {}, "Jobs"), form,
    table([["Id"], ["Task"], ["Queue"], ["State"], ["Attempts", "num"], ["Sent"], ["Ended"], ["Error"]], rows,
      page.next !== null ? "None in this stretch of jobs; look further back." : "No job matches."),
    h("div", { class: "pager" },
      params.get("before") ? h("button", { id: "newest", onclick: () => { params.delete("before"); location.hash = "#/jobs?" + params.toString(); } }, "« Newest") : null,
      page.next !== null ? h("button", { id: "older", onclick: () => { location.hash = "#/jobs?" + older.toString(); } }, "Older »") : null,
      h("span", { class: "muted" }, params.get("before") ? "" : "newest first, live")));
}

async function jobPage(id) {
  const job = await get(`/api/jobs/${encodeURIComponent(id)}`);
  const enc = encodeURIComponent(id);
  const finished = ["SUCCESS", "FAILURE", "REVOKED", "IGNORED"].includes(job.state);
  const rows = [["Task", job.task], ["Queue", job.queue], ["State", state(job.custom_state || job.state)],
    ["Attempts", `${job.attempts}${job.max_retries !== null ? ` (max retries ${job.max_retries})` : ""}`],
    ...job.held_back.map((e) => ["Held back", h("span", { class: "held", "data-held-back": e.limit }, e.reason)]),
    ["Worker", job.worker || "–"], ["Sent", when(job.sent_at)], ["Eta", when(job.eta)], ["Expires", when(job.expires)],
    ["Started", when(job.started_at)], ["Ended", when(job.done_at)], ["Arguments", h("code", {}, JSON.stringify(job.args))],
    ["Keyword arguments", h("code", {}, JSON.stringify(job.kwargs))]];
  if (job.progress !== null) rows.push(["Progress", h("code", {}, JSON.stringify(job.progress))]);
  if (job.state === "SUCCESS") rows.push(["Result", h("code", { id: "result" }, JSON.stringify(job.result))]);
  if (job.exc_type) rows.push(["Error", `${job.exc_type}: ${job.exc_message}`]);
  render(
    h("h1", {}, "Job ", h("code", { id: "job-id" }, job.id)),
    h("div", { class: "actions" },
      finished ? actionButton("Retry", `/api/jobs/${enc}/retry`, `Run job ${id} again (attempts reset)?`) : null,
      ["QUEUED", "RETRY", "REPLACED"].includes(job.state) ? actionButton("Revoke", `/api/jobs/${enc}/revoke`, `Revoke job ${id}? It will never run.`, true) : null,
      job.state === "STARTED" ? actionButton("Terminate", `/api/jobs/${enc}/terminate`, `Stop job ${id} now? Its worker kills the process running it.`, true) : null),
    h("dl", { class: "fields" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    job.traceback ? [h("h2", {}, "Traceback"), h("pre", { id: "traceback" }, job.traceback)] : null,
    h("h2", {}, "Timeline"),
    table([["Time"], ["Event"], ["Detail"]], job.timeline.map((e) => h("tr", {}, h("td", {}, when(e.time)), h("td", {}, e.event), h("td", {}, e.detail))), "–"),
    job.history.length ? [h("h2", {}, "Failed attempts"), table([["Attempt", "num"], ["Time"], ["Worker"], ["Error"]],
      job.history.map((a) => h("tr", {}, h("td", { class: "num" }, a.attempt), h("td", {}, when(a.time)), h("td", {}, a.worker || "–"),
        h("td", {}, `${a.exc_type}: ${a.message}`, a.traceback ? h("pre", {}, a.traceback) : null))), "–")] : null,
    job.workflow ? workflowSection(job.workflow) : null,
    job.options && Object.keys(job.options).length ? [h("h2", {}, "Options"), h("pre", {}, JSON.stringify(job.options, null, 2))] : null,
  );
}

function workflowSection(wf) {
  const rows = [];
  if (wf.group) {
    const g = wf.group;
    rows.push([g.chord ? "Chord header" : "Group", h("span", {}, h("code", {}, g.id), ` — member ${g.index ?? "?"}; `,
      `${g.members_done} of ${g.members_total} done`, g.chord_state ? ` (join ${g.chord_state})` : "")]);
  }
  if (wf.chain) rows.push(["Chain", `step ${wf.chain.step} of ${wf.chain.of}`]);
  if (wf.next && wf.next.length) rows.push(["Then", wf.next.join(" → ")]);
  if (wf.link && wf.link.length) rows.push(["On success", wf.link.join(", ")]);
  if (wf.link_error && wf.link_error.length) rows.push(["On failure", wf.link_error.join(", ")]);
  return [h("h2", {}, "Workflow"), h("dl", { class: "fields", id: "workflow" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
}

async function schedulesPage() {
  const entries = await get("/api/schedules");
  render(h("h1", {}, "Schedules"), table(
    [["Name"], ["Schedule"], ["Task"], ["Next fire"], ["Last fire"], ["Runs", "num"], ["State"], [""]],
    entries.map((e) => h("tr", { "data-schedule": e.name },
      h("td", {}, e.name), h("td", {}, e.schedule), h("td", {}, e.task), h("td", {}, when(e.next_fire)), h("td", {}, when(e.last_fire)),
      h("td", { class: "num" }, e.runs), h("td", {}, state(e.state)),
      h("td", {}, e.state === "paused"
        ? actionButton("Resume", `/api/schedules/${encodeURIComponent(e.name)}/resume`, `Resume schedule ${e.name}?`)
        : e.state === "active" ? actionButton("Pause", `/api/schedules/${encodeURIComponent(e.name)}/pause`, `Pause schedule ${e.name}? It fires no more until resumed.`) : null))),
    "No schedule entries."));
}

// -- routing and live updates ----------------------------------------------------------------------

const pages = { "": overviewPage, queues: queuesPage, workers: workersPage, jobs: jobsPage, schedules: schedulesPage };

async function route() {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const [page, arg] = path.startsWith("job/") ? ["job", decodeURIComponent(path.slice(4))] : [path, null];
  const run = page === "job" ? () => jobPage(arg) : pages[page] || overviewPage;
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.page === (page === "job" ? "jobs" : page || "overview"));
  const refresh = async () => {
    try { await run(); document.body.dataset.loaded = page || "overview"; } catch (err) { render(h("div", { class: "empty" }, String(err.message || err))); }
  };
  current = { page, refresh };
  await refresh();
}

function live() {
  const events = new EventSource("/api/events");
  const dot = document.getElementById("live");
  events.addEventListener("open", () => { dot.className = "live on"; dot.textContent = "● live"; });
  events.addEventListener("error", () => { dot.className = "live off"; dot.textContent = "● reconnecting"; });
  events.addEventListener("overview", () => {
    // The first page of jobs, a job, and the summary pages follow the store; older pages stay put.
    if (!current || (current.page === "jobs" && routeQuery().get("before"))) return;
    if (document.querySelector("dialog[open]") || document.activeElement?.closest?.("form.filters")) return;
    current.refresh();
  });
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  info = await get("/api/info");
  document.getElementById("store").textContent = info.database + (info.read_only ? " · read-only" : "");
  await route();
  live();
});
