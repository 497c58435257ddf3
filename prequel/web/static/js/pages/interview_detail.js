// One interview's page (and its saved-files page): the status, timeline, access and logs
// follow the staff event stream; saved files open in place without leaving the page.

import { ApiError, get } from "../lib/api.js";
import { tickCountdowns } from "../lib/clock.js";
import { h, pageData, replaceChildren } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { statusBadge } from "../lib/status.js";
import { timeElement } from "../lib/time.js";

const data = pageData("interview-data") || {};
const interviewPath = `/interviews/${encodeURIComponent(data.id)}`;
const archivePath = `/api/interviews/${encodeURIComponent(data.id)}/archive`;

const OPERATION_LABELS = { create: "Create the workspace", destroy: "Save the work and remove the workspace" };
const OPERATION_STATES = {
  pending: ["◷", "Waiting"], scheduled: ["◷", "Scheduled"], running: ["◌", "Running"],
  completed: ["✓", "Completed"], failed: ["!", "Failed"], cancelled: ["■", "Cancelled"],
};

// Log times ----------------------------------------------------------------------------------

const clockTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function localizeLogTime(el) {
  const date = new Date(el.dataset.at);
  if (Number.isNaN(date.getTime())) return;
  el.textContent = clockTime.format(date);
  el.title = date.toLocaleString();
}

function logLine(line) {
  const level = line.level || "info";
  const time = h("span", { class: "log-time", dataset: { at: line.at || "" } }, "");
  localizeLogTime(time);
  return h("div", { class: `log-line log-level-${level}`, dataset: { logKey: `${line.at}|${line.message}` } },
    time, h("span", { class: "log-level" }, level), h("span", { class: "log-message" }, line.message));
}

// Operations -----------------------------------------------------------------------------------

function operationStatus(status) {
  const [icon, label] = OPERATION_STATES[status] || ["•", status];
  return h("span", { class: `op-status op-${status}`, dataset: { opStatus: "" } },
    h("span", { "aria-hidden": "true" }, icon), ` ${label}`);
}

function operationBlock(op) {
  const label = OPERATION_LABELS[op.type] || op.type;
  return h("details", { class: "operation", open: true, dataset: { operation: op.id } },
    h("summary", {},
      h("span", { class: "operation-title" }, label),
      operationStatus(op.status),
      h("span", { class: "muted operation-meta" }, op.created_at ? timeElement(op.created_at, { short: true }) : "")),
    h("div", { class: "log", role: "log", "aria-label": `Log of: ${label}`, dataset: { log: "" } }));
}

function onOperationUpdate(op) {
  if (op.interview_id !== data.id) return;
  const list = document.querySelector("[data-operations]");
  if (!list) return;
  let block = list.querySelector(`[data-operation="${CSS.escape(op.id)}"]`);
  if (!block) {
    block = operationBlock(op);
    list.prepend(block);
    document.querySelector("[data-operations-empty]")?.setAttribute("hidden", "");
  }
  block.querySelector("[data-op-status]")?.replaceWith(operationStatus(op.status));
  const log = block.querySelector("[data-log]");
  const known = new Set([...log.querySelectorAll("[data-log-key]")].map((el) => el.dataset.logKey));
  const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  for (const line of op.new_logs || []) {
    if (known.has(`${line.at}|${line.message}`)) continue;
    log.querySelector("[data-log-empty]")?.remove();
    log.append(logLine(line));
  }
  if (follow) log.scrollTop = log.scrollHeight;
  if (op.error && !block.querySelector(".operation-error")) {
    block.append(h("p", { class: "alert alert-error operation-error" }, op.error));
  }
}

// The interview ------------------------------------------------------------------------------

function setHidden(selector, hidden) {
  for (const el of document.querySelectorAll(selector)) el.hidden = hidden;
}

function updateTimeline(item) {
  const list = document.querySelector("[data-timeline]");
  if (!list) return;
  const last = list.lastElementChild;
  const reason = item.end_reason || "";
  if (last && last.dataset.timelineStatus === item.status && (last.dataset.timelineReason || "") === reason) return;
  const at = item.updated_at || new Date().toISOString();
  list.append(h("li", { class: "timeline-item is-new", dataset: { timelineStatus: item.status, timelineReason: reason } },
    statusBadge(item.status, item.end_reason), " ", timeElement(at)));
}

function updateFacts(item) {
  for (const field of ["started_at", "destroyed_at"]) {
    const cell = document.querySelector(`[data-fact="${field}"]`);
    if (cell && item[field] && !cell.querySelector("time")) replaceChildren(cell, timeElement(item[field]));
  }
}

function updateAccess(item) {
  const active = item.status === "active";
  setHidden("[data-workspace-link]", !active);
  setHidden("[data-workspace-note]", active);
  const note = document.querySelector("[data-workspace-note]");
  if (note) {
    note.textContent = item.status === "destroyed" ? "Removed"
      : item.status === "destroying" ? "Saving the work, then removing it" : "Not ready yet";
  }
  setHidden("[data-access-closed]", item.status !== "destroyed");
  const countdown = document.querySelector("[data-countdown-wrap] [data-countdown]");
  if (countdown && item.auto_destroy_at) countdown.dataset.countdown = item.auto_destroy_at;
  setHidden("[data-countdown-wrap]", !(active && item.auto_destroy_at));
  tickCountdowns();
}

function offerSavedWork(item) {
  if (!item.archive || data.has_files) return;
  data.has_files = true;
  const actions = document.querySelector("[data-header-actions]");
  if (actions && !actions.querySelector("[data-download]")) {
    actions.append(h("a", { class: "btn btn-primary", href: archivePath, download: true, dataset: { download: "" } }, "Download saved code"));
  }
  const note = document.querySelector("[data-saved-note]");
  if (note) {
    note.replaceWith(h("div", { class: "saved-ready" },
      h("p", { class: "alert alert-ok", role: "status" }, "✓ The work is saved."),
      h("div", { class: "actions" },
        h("a", { class: "btn", href: `${interviewPath}/saved` }, "Browse the saved files"),
        h("a", { class: "btn btn-quiet", href: archivePath, download: true }, "Download"))));
  }
}

function onInterviewUpdate(item) {
  if (item.id !== data.id) return;
  const badge = document.querySelector("[data-status-badge]");
  if (badge) replaceChildren(badge, statusBadge(item.status, item.end_reason));
  updateTimeline(item);
  updateFacts(item);
  updateAccess(item);
  offerSavedWork(item);
  data.status = item.status;
}

// Saved files ----------------------------------------------------------------------------------

const SIZE_UNITS = ["kB", "MB", "GB"];

// Like Jinja's filesizeformat, so sizes read the same before and after a file is opened.
function formatSize(bytes) {
  if (bytes === 1) return "1 Byte";
  if (bytes < 1000) return `${bytes} Bytes`;
  let value = bytes;
  for (const unit of SIZE_UNITS) {
    value /= 1000;
    if (value < 1000 || unit === "GB") return `${value.toFixed(1)} ${unit}`;
  }
  return `${bytes} Bytes`;
}

function codeView(file) {
  const lines = file.line_count;
  const numbers = Array.from({ length: lines }, (_, index) => index + 1).join("\n");
  return [
    h("div", { class: "code-head" },
      h("code", { class: "code-path" }, file.path),
      h("span", { class: "muted" }, `${lines} line${lines === 1 ? "" : "s"} · ${formatSize(file.size)}`)),
    h("div", { class: "code-body", tabindex: "0", "aria-label": `Content of ${file.path}` },
      h("pre", { class: "code-gutter", "aria-hidden": "true" }, numbers),
      h("pre", { class: "code-text" }, h("code", {}, file.content))),
  ];
}

function fileProblem(error) {
  const readable = error instanceof ApiError && ["file_too_large", "binary_file", "not_a_file"].includes(error.code);
  return h("div", { class: "files-message" },
    h("p", { class: readable ? "alert alert-info" : "alert alert-error", role: readable ? "status" : "alert" }, error.message),
    h("a", { class: "btn", href: archivePath, download: true }, "Download the archive"));
}

function loadingView() {
  return h("div", { class: "files-loading", "aria-hidden": "true" },
    [70, 90, 55, 80].map((width) => {
      const bar = h("span", { class: "skeleton" });
      bar.style.width = `${width}%`;
      return bar;
    }));
}

function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

async function openFile(browser, path) {
  const view = browser.querySelector("[data-file-view]");
  const status = browser.querySelector("[data-file-status]");
  for (const link of browser.querySelectorAll("[data-file-path]")) {
    if (link.dataset.filePath === path) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
  replaceChildren(view, loadingView());
  try {
    const file = await get(`/api/interviews/${encodeURIComponent(data.id)}/archive/files/${encodePath(path)}`);
    replaceChildren(view, codeView(file));
    if (status) status.textContent = `Showing ${file.path}, ${file.line_count} lines.`;
  } catch (error) {
    replaceChildren(view, fileProblem(error));
    if (status) status.textContent = error.message;
  }
}

function bindFileBrowser(browser) {
  browser.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-file-path]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    openFile(browser, link.dataset.filePath);
    // The saved-files page keeps the URL in step, so the address is a permalink to the file.
    if (data.standalone) history.pushState({ path: link.dataset.filePath }, "", link.href);
  });
  if (data.standalone) {
    window.addEventListener("popstate", (event) => {
      if (event.state && event.state.path) openFile(browser, event.state.path);
      else window.location.reload();
    });
  }
}

// Start ----------------------------------------------------------------------------------------

for (const el of document.querySelectorAll(".log-time[data-at]")) localizeLogTime(el);
for (const browser of document.querySelectorAll("[data-file-browser]")) bindFileBrowser(browser);
if (!data.standalone) {
  // Resume right after the state this page was rendered from: nothing in between is lost.
  connectEvents(`/api/events?last_event_id=${encodeURIComponent(data.resume_seq || 0)}`, {
    interview_update: onInterviewUpdate,
    operation_update: onOperationUpdate,
  });
}
