// The Logs modal: an interview's operations (create, destroy) and their log lines, loaded
// once, then followed live from operation_update events while the modal is open.

import { get } from "../../lib/api.js";
import { h, replaceChildren } from "../../lib/dom.js";
import { openModal } from "../../lib/ui.js";

const lineTime = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const OPERATION_NAMES = { create: "Create the workspace", destroy: "Save the work and remove the workspace" };

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : lineTime.format(date);
}

export class LogsModal {
  constructor(dialog) {
    this.dialog = dialog;
    this.body = dialog.querySelector("[data-logs-body]");
    this.subtitle = dialog.querySelector("[data-logs-subtitle]");
    this.interviewId = null;
    dialog.addEventListener("close", () => {
      this.interviewId = null;
    });
  }

  async open(row, challengeTitle) {
    const id = row.id;
    this.interviewId = id;
    this.sections = new Map();
    this.seen = new Set();
    this.pending = [];
    this.loading = true;
    this.subtitle.textContent = `${row.candidate_name} · ${challengeTitle || row.challenge_slug}`;
    replaceChildren(this.body, h("p", { class: "log-empty" }, "Loading the log…"));
    openModal(this.dialog);
    try {
      const { operations } = await get(`/api/interviews/${encodeURIComponent(id)}/operations`);
      if (this.interviewId !== id) return;
      this.body.replaceChildren();
      // The API lists newest first; a log reads top to bottom.
      for (const operation of [...operations].reverse()) this.apply(operation, operation.logs || []);
      if (!operations.length) this.showEmpty();
    } catch (error) {
      if (this.interviewId !== id) return;
      replaceChildren(this.body, h("p", { class: "log-empty", role: "alert" }, `The log could not be loaded: ${error.message}`));
    }
    this.loading = false;
    for (const operation of this.pending.splice(0)) this.feed(operation);
    this.scrollToEnd(true);
  }

  showEmpty() {
    replaceChildren(this.body, h("p", { class: "log-empty", dataset: { empty: "" } }, "Nothing has happened yet: the log fills in when the workspace starts."));
  }

  // An operation_update event from the staff stream.
  feed(operation) {
    if (!this.dialog.open || operation.interview_id !== this.interviewId) return;
    if (this.loading) {
      this.pending.push(operation);
      return;
    }
    const stick = this.nearEnd();
    this.apply(operation, operation.new_logs || []);
    this.scrollToEnd(stick);
  }

  apply(operation, lines) {
    this.body.querySelector("[data-empty]")?.remove();
    let section = this.sections.get(operation.id);
    if (!section) {
      section = {
        head: h("div", { class: "log-op" }),
        lines: h("div", { class: "log-op-lines" }),
      };
      this.sections.set(operation.id, section);
      this.body.append(h("section", { class: "log-op-section", dataset: { operation: operation.id } }, section.head, section.lines));
    }
    const attempts = operation.attempts > 1 ? ` · attempt ${operation.attempts}` : "";
    replaceChildren(section.head,
      h("span", { class: "log-op-name" }, OPERATION_NAMES[operation.type] || operation.type),
      h("span", { class: `log-op-status log-op-${operation.status}` }, `${operation.status}${attempts}`),
      operation.error ? h("span", { class: "log-op-error" }, operation.error) : null);
    for (const line of lines) {
      // A line can come twice: in the first load and in an event that raced it.
      const key = `${operation.id}|${line.at}|${line.message}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      section.lines.append(h("div", { class: `log-line log-level-${line.level || "info"}` },
        h("time", { class: "log-time", datetime: line.at }, formatTime(line.at)),
        h("span", { class: "log-level" }, (line.level || "info").toUpperCase()),
        h("span", { class: "log-message" }, line.message)));
    }
  }

  nearEnd() {
    return this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 40;
  }

  scrollToEnd(stick) {
    if (stick) this.body.scrollTop = this.body.scrollHeight;
  }
}
