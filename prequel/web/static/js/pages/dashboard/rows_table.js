// The dashboard's table: rows keyed by interview id, kept in order (newest first), inserted,
// re-rendered and removed as interview_update events arrive. Rows of the other kind, and
// statuses this tab does not list (an ended interview), never stay in it.

import { get } from "../../lib/api.js";
import { tickCountdowns } from "../../lib/clock.js";
import { END_REASON } from "../../lib/status.js";
import { toast } from "../../lib/ui.js";
import { renderRow } from "./rows.js";

const MORE_LIMIT = 100;

// Newest first, like the API's keyset order: created_at, then id, both descending.
function comesBefore(a, b) {
  const byTime = Date.parse(a.created_at) - Date.parse(b.created_at);
  if (byTime !== 0) return byTime > 0;
  return a.id > b.id;
}

export class RowsTable {
  constructor(section, data, { onLogs, onEnd }) {
    this.kind = data.kind;
    this.statuses = new Set(data.statuses);
    this.challenges = new Map(data.challenges.map((challenge) => [challenge.slug, challenge]));
    this.rows = new Map();
    this.passwords = new Map();
    this.fetchingPasswords = new Set();
    this.nextCursor = data.next_cursor;
    this.tbody = section.querySelector("[data-rows]");
    this.tableWrap = section.querySelector("[data-table]");
    this.empty = section.querySelector("[data-empty]");
    this.more = section.querySelector("[data-more]");
    this.labels = [...section.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    this.ctx = {
      canManage: data.can_manage,
      challenge: (slug) => this.challenges.get(slug),
      password: (id) => this.passwords.get(id),
      onLogs: (id) => onLogs(this.rows.get(id)),
      onEnd: (id) => onEnd(this.rows.get(id)),
    };
    this.more.querySelector("[data-more-button]").addEventListener("click", () => this.loadMore());

    this.tbody.replaceChildren();
    for (const row of data.rows) this.upsert(row, { quiet: true });
    this.tbody.removeAttribute("aria-busy");
    section.querySelector("[data-loading]")?.remove();
    this.refresh();
  }

  get(id) {
    return this.rows.get(id);
  }

  // An interview's new state, from the page data, an event or an API answer.
  upsert(view, { quiet = false } = {}) {
    if (!view || view.kind !== this.kind) return;
    if (Object.hasOwn(view, "password")) this.passwords.set(view.id, view.password);
    const existing = this.rows.get(view.id);
    // A replayed or late event must not undo a newer state.
    if (existing && Date.parse(view.updated_at) < Date.parse(existing.updated_at)) return;
    if (!this.statuses.has(view.status)) {
      if (existing) this.remove(view, quiet);
      return;
    }
    const row = { ...existing, ...view };
    delete row.password;
    this.rows.set(row.id, row);
    this.place(row, !existing && !quiet);
    if (!quiet && existing && existing.status !== "active" && row.status === "active") {
      toast(`${row.candidate_name}: the workspace is ready`);
    }
    this.ensurePassword(row);
    this.refresh();
  }

  remove(view, quiet) {
    const row = this.rows.get(view.id);
    this.rows.delete(view.id);
    const tr = this.rowElement(view.id);
    const hadFocus = tr && tr.contains(document.activeElement);
    tr?.remove();
    this.refresh();
    if (hadFocus) document.querySelector("h1")?.focus();
    if (!quiet && row) {
      const reason = END_REASON[view.end_reason] || "Ended";
      toast(`${row.candidate_name}: ${reason.toLowerCase()}. It is now in History.`);
    }
  }

  rowElement(id) {
    return this.tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  }

  // Render the row and put it in place; keep keyboard focus on the same action.
  place(row, isNew) {
    const old = this.rowElement(row.id);
    const focusedAction = old && old.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const tr = renderRow(row, this.ctx, this.labels);
    if (isNew) tr.classList.add("is-new");
    tickCountdowns(tr);
    if (old) {
      old.replaceWith(tr);
    } else {
      const next = [...this.tbody.children].find((other) => {
        const otherRow = this.rows.get(other.dataset.id);
        return otherRow && comesBefore(row, otherRow);
      });
      this.tbody.insertBefore(tr, next || null);
    }
    if (focusedAction) (tr.querySelector(`[data-action="${focusedAction}"]`) || tr.querySelector("[data-action]"))?.focus();
  }

  // The list view leaves the password out: fetch it once the workspace is ready.
  async ensurePassword(row) {
    if (row.kind !== "live" || row.status !== "active") return;
    if (this.passwords.has(row.id) || this.fetchingPasswords.has(row.id)) return;
    this.fetchingPasswords.add(row.id);
    try {
      const detail = await get(`/api/interviews/${encodeURIComponent(row.id)}`);
      this.passwords.set(row.id, detail.password ?? null);
    } catch (error) {
      this.passwords.set(row.id, null);
      toast(`The password for ${row.candidate_name} could not be loaded: ${error.message}`, "error");
    } finally {
      this.fetchingPasswords.delete(row.id);
    }
    const current = this.rows.get(row.id);
    if (current) this.place(current, false);
  }

  refresh() {
    const none = this.rows.size === 0;
    this.tableWrap.hidden = none;
    this.empty.hidden = !none;
    this.more.hidden = !this.nextCursor;
  }

  async loadMore() {
    const button = this.more.querySelector("[data-more-button]");
    button.disabled = true;
    const query = new URLSearchParams({
      kind: this.kind,
      status: [...this.statuses].join(","),
      cursor: this.nextCursor,
      limit: String(MORE_LIMIT),
    });
    try {
      const page = await get(`/api/interviews?${query}`);
      for (const row of page.items) this.upsert(row, { quiet: true });
      this.nextCursor = page.next_cursor;
    } catch (error) {
      toast(`More rows could not be loaded: ${error.message}`, "error");
    } finally {
      button.disabled = false;
      this.refresh();
    }
  }
}
