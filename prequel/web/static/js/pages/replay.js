// The replay page: one timeline with a scrubber, play/pause, speed and markers. Every seek
// asks the server for the workspace's state at that moment (GET .../replay/state), which it
// builds from the nearest snapshot, so any point renders quickly. While a request is out,
// later seeks are folded into one: the page always ends on the last position asked for.

import { get } from "../lib/api.js";
import { h, pageData, replaceChildren } from "../lib/dom.js";

const data = pageData("replay-data");
const root = document.querySelector("[data-replay]");
const $ = (selector) => root.querySelector(selector);
const base = `/api/interviews/${data.id}`;
const TICK_MS = 100;

let timeline = null;
let position = 0; // ms since the first event
let current = null; // the last state shown
let selectedPath = null;
let playing = false;
let timer = null;
let inFlight = false;
let wanted = null; // the seek waiting for the one in flight
let codeView = null; // the read-only CodeMirror (dist/replay-editor.js), or null: plain text

function clock(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

const span = () => Math.max(1, Math.round((timeline.end_ts - timeline.start_ts) * 1000));

function showTime() {
  $("[data-time]").textContent = `${clock(position)} / ${clock(span())}`;
  $("[data-scrubber]").value = String(position);
}

async function seek(target) {
  wanted = target;
  if (inFlight) return;
  inFlight = true;
  root.classList.add("replay-loading");
  try {
    while (wanted) {
      const next = wanted;
      wanted = null;
      const query = next.seq !== undefined ? `seq=${next.seq}` : `ts=${next.ts}`;
      const state = await get(`${base}/replay/state?${query}`);
      if (next.seq !== undefined && state.ts) {
        position = Math.round((state.ts - timeline.start_ts) * 1000);
      }
      render(state);
    }
  } catch (exc) {
    $("[data-replay-status]").hidden = false;
    $("[data-replay-status]").textContent = `Could not load this moment: ${exc.message}`;
    pause();
  } finally {
    inFlight = false;
    root.classList.remove("replay-loading");
    root.dataset.seq = current ? String(current.seq) : "";
    root.dataset.seeks = String(Number(root.dataset.seeks || 0) + 1); // for tests: a seek landed
  }
}

const seekTime = (ms) => {
  position = Math.min(Math.max(0, ms), span());
  showTime();
  return seek({ ts: timeline.start_ts + position / 1000 });
};

function lineOf(text, offset) {
  let line = 0;
  for (let i = 0; i < offset && i < text.length; i += 1) if (text[i] === "\n") line += 1;
  return line;
}

function renderFiles(state) {
  const paths = Object.keys(state.files);
  const change = state.last_change;
  if (!selectedPath || !paths.includes(selectedPath)) {
    selectedPath = change && paths.includes(change.path) ? change.path : paths[0] || null;
  }
  replaceChildren(
    $("[data-files]"),
    ...paths.map((path) =>
      h("li", {},
        h("button", {
          type: "button",
          class: change && change.path === path ? "changed" : "",
          "aria-current": path === selectedPath ? "true" : "false",
          onclick: () => { selectedPath = path; renderCode(current); },
        }, path)),
    ),
  );
  $("[data-path]").textContent = selectedPath || "No files yet";
}

// Without the editor bundle: numbered lines, the changed one highlighted.
function renderPlain(text, here) {
  const changedLine = here ? lineOf(text, here.from) : -1;
  let offset = 0;
  const rows = text.split("\n").map((line, index) => {
    const start = offset;
    offset += line.length + 1;
    if (index !== changedLine) return h("span", { class: "line" }, line);
    const from = Math.max(0, here.from - start);
    const to = Math.min(line.length, Math.max(from, here.to - start));
    return h("span", { class: "line is-changed", dataset: { changed: "" } },
      line.slice(0, from), to > from ? h("mark", {}, line.slice(from, to)) : "", line.slice(to));
  });
  replaceChildren($("[data-code]"), h("pre", { class: "replay-code" }, ...rows));
}

function renderCode(state) {
  renderFiles(state);
  const change = state.last_change;
  const text = selectedPath ? state.files[selectedPath] : "";
  const here = change && change.path === selectedPath ? change : null;
  if (codeView) codeView.show(selectedPath, text, here, playing);
  else renderPlain(text, here);
}

function codeText() {
  if (codeView) return codeView.text();
  return [...root.querySelectorAll("[data-code] .line")].map((line) => line.textContent).join("\n");
}

function renderTests(tests) {
  const box = $("[data-tests]");
  if (!tests) return replaceChildren(box, h("p", { class: "muted" }, "No test run yet."));
  const title = tests.which === "hidden" ? "Hidden tests (at the end)" : `Run by ${tests.by}`;
  const summary = tests.running
    ? "running…"
    : `${tests.summary.passed ?? 0} of ${tests.summary.total ?? 0} passed`;
  replaceChildren(box,
    h("p", {}, h("strong", {}, title), ` · ${summary}`),
    h("ul", {}, ...tests.results.map((r) =>
      h("li", {}, h("span", { class: `outcome outcome-${r.outcome}` }, r.outcome), " ", h("code", {}, r.name)))));
}

function render(state) {
  current = state;
  renderCode(state);
  $("[data-terminal]").textContent = state.terminal.lines.join("\n").replace(/\n+$/, "");
  replaceChildren($("[data-chat]"), ...state.chat.map((m) =>
    h("li", {}, h("span", { class: "who" }, `${m.author}: `), m.text)));
  const chat = $("[data-chat]");
  chat.parentElement.scrollTop = chat.parentElement.scrollHeight;
  renderTests(state.tests);
  const people = state.presence.people.map((p) => `${p.name} (${p.role})`).join(", ") || "Nobody";
  replaceChildren($("[data-people]"),
    h("p", {}, people),
    state.presence.candidate_away ? h("p", { class: "replay-away" }, "The candidate's tab is in the background") : "");
  const event = state.event;
  $("[data-event]").textContent = event ? `#${event.seq} ${event.type} · ${event.author.name}` : "";
}

function tick() {
  const speed = Number($("[data-speed]").value) || 1;
  const next = position + TICK_MS * speed;
  if (next >= span()) {
    seekTime(span());
    pause();
    return;
  }
  position = next;
  showTime();
  if (!inFlight) seek({ ts: timeline.start_ts + position / 1000 });
}

function play() {
  if (position >= span()) position = 0;
  playing = true;
  $("[data-play]").textContent = "❚❚ Pause";
  $("[data-play]").setAttribute("aria-label", "Pause");
  timer = setInterval(tick, TICK_MS);
}

function pause() {
  playing = false;
  clearInterval(timer);
  $("[data-play]").textContent = "▶ Play";
  $("[data-play]").setAttribute("aria-label", "Play");
}

function renderMarkers() {
  const box = $("[data-markers]");
  replaceChildren(box, ...timeline.markers.map((m) => {
    const left = ((m.ts - timeline.start_ts) * 1000 / span()) * 100;
    const marker = h("button", {
      type: "button",
      class: "replay-marker",
      title: `${clock((m.ts - timeline.start_ts) * 1000)} ${m.label}`,
      "aria-label": m.label,
      dataset: { type: m.type, seq: String(m.seq) },
      onclick: () => { pause(); seek({ seq: m.seq }); },
    });
    marker.style.left = `${left.toFixed(3)}%`; // CSSOM, which the CSP allows (attributes it does not)
    return marker;
  }));
}

async function loadEditor() {
  try {
    const module = await import($("[data-code]").dataset.editorUrl);
    codeView = module.createCodeView($("[data-code]"));
  } catch (exc) {
    console.warn("the code view falls back to plain text:", exc);
  }
}

async function start() {
  await loadEditor();
  try {
    timeline = await get(`${base}/replay/timeline`);
  } catch (exc) {
    $("[data-replay-status]").textContent = `The recording could not be loaded: ${exc.message}`;
    return;
  }
  if (!timeline.count) {
    $("[data-replay-status]").textContent =
      "Nothing was recorded for this interview yet. The recording starts when the workspace opens.";
    return;
  }
  $("[data-replay-status]").hidden = true;
  $("[data-replay-controls]").hidden = false;
  $("[data-replay-grid]").hidden = false;
  $("[data-scrubber]").max = String(span());
  renderMarkers();
  showTime();
  $("[data-scrubber]").addEventListener("input", (event) => { pause(); seekTime(Number(event.target.value)); });
  $("[data-play]").addEventListener("click", () => (playing ? pause() : play()));
  for (const button of root.querySelectorAll("[data-step]")) {
    button.addEventListener("click", () => {
      pause();
      const seq = Math.min(timeline.last_seq, Math.max(1, (current ? current.seq : 0) + Number(button.dataset.step)));
      seek({ seq });
    });
  }
  const initial = Number(data.seq);
  await (initial > 0 ? seek({ seq: initial }) : seek({ seq: 1 }));
  showTime();
  root.dataset.ready = "true";
}

window.prequelReplay = { seek, seekTime, codeText, state: () => current, timeline: () => timeline };
start();
