// One renderer per kind of row: a <tr> built from an interview's staff view. Used for the
// embedded first rows and for every live update alike, so a row never looks different
// after an event than after a reload.

import { serverNow } from "../../lib/clock.js";
import { h } from "../../lib/dom.js";
import { STEPS, statusBadge } from "../../lib/status.js";
import { timeElement } from "../../lib/time.js";

// Live interviews go scheduled -> initializing -> configuring -> active; take-homes start
// with the candidate's click (activated).
const LIVE_STEPS = STEPS.filter((step) => step.status !== "activated");
const PROVISIONING = new Set(["activated", "initializing", "configuring"]);

function sub(...children) {
  return h("div", { class: "cell-sub" }, ...children);
}

function muted(text) {
  return h("span", { class: "muted" }, text);
}

// whole: never cut the value short (a password must be readable in full).
export function copyField(value, label, id, { whole = false } = {}) {
  return h("span", { class: whole ? "copy-field copy-field-whole" : "copy-field" },
    h("code", { id, title: value }, value),
    h("button", { class: "btn btn-small", type: "button", "data-copy": value, "aria-label": `Copy ${label}` }, "Copy"));
}

// "Step 2 of 3: Copying the challenge files", with a <progress> that is not only color.
function progress(status, kind) {
  const steps = kind === "live" ? LIVE_STEPS : STEPS;
  const index = steps.findIndex((step) => step.status === status);
  if (index < 0) return null;
  const total = steps.length - 1; // "Ready" is where it ends, not a step to wait for
  return h("div", { class: "row-progress", dataset: { step: status } },
    h("progress", { max: total, value: index + 1, "aria-label": "Provisioning progress" }),
    h("span", { class: "row-progress-text" }, `Step ${index + 1} of ${total}: ${steps[index].label}…`));
}

function statusCell(row) {
  const cell = [statusBadge(row.status, row.end_reason)];
  if (PROVISIONING.has(row.status)) cell.push(progress(row.status, row.kind));
  else if (row.status === "scheduled" && row.provision_at && Date.parse(row.provision_at) <= serverNow()) {
    cell.push(sub("Waiting for a free worker…"));
  } else if (row.status === "error") cell.push(sub("Provisioning failed: open Logs"));
  else if (row.status === "destroying") cell.push(sub("Archiving the work, then removing the workspace"));
  return cell;
}

function candidateCell(row) {
  const extra = row.kind === "live"
    ? (row.candidate_display_name ? sub(`joined as ${row.candidate_display_name}`) : null)
    : (row.candidate_email ? sub(row.candidate_email) : null);
  // The name opens the interview's detail page: timeline, logs, access and saved work.
  return [h("a", { class: "cell-main row-link", href: `/interviews/${encodeURIComponent(row.id)}` }, row.candidate_name), extra];
}

function challengeCell(row, ctx) {
  const challenge = ctx.challenge(row.challenge_slug);
  if (!challenge) return [h("div", {}, row.challenge_slug)];
  return [h("div", {}, challenge.title), sub(`${challenge.language} · ${challenge.difficulty}`)];
}

function timeLeftCell(row) {
  if (row.status === "active" && row.auto_destroy_at) {
    return [h("span", { class: "countdown", dataset: { countdown: row.auto_destroy_at, countdownDone: "Time is up" } }),
      sub("ends ", timeElement(row.auto_destroy_at, { short: true }))];
  }
  if (row.status === "destroying") return [muted("Saving…")];
  if (PROVISIONING.has(row.status)) return [muted("Starting…")];
  if (row.status === "error") return [muted("—")];
  return [muted("Not started")];
}

function scheduledCell(row) {
  if (row.scheduled_at) return [timeElement(row.scheduled_at)];
  return [h("div", {}, "Now"), sub("created ", timeElement(row.created_at, { short: true }))];
}

function accessCell(row, ctx) {
  if (row.status !== "active") return [muted("When the workspace is ready")];
  const password = ctx.password(row.id);
  return [
    h("div", { class: "access-item" }, h("span", { class: "access-label" }, "Join link"),
      copyField(row.join_url, `the join link for ${row.candidate_name}`, `join-${row.id}`)),
    h("div", { class: "access-item" }, h("span", { class: "access-label" }, "Password"),
      password === undefined ? muted("Loading…")
        : password === null ? muted("Unavailable (the secret key changed)")
          : copyField(password, `the workspace password for ${row.candidate_name}`, `password-${row.id}`, { whole: true })),
  ];
}

// Visible words plus the candidate's name for screen readers: "End now (Ada Lovelace)".
function actionButton(text, row, attrs) {
  return h("button", { class: "btn btn-small", type: "button", ...attrs },
    text, h("span", { class: "visually-hidden" }, ` (${row.candidate_name})`));
}

function actionsCell(row, ctx) {
  const ending = row.status === "destroying" || row.status === "destroyed";
  const buttons = [];
  if (row.kind === "live" && row.status === "active") {
    buttons.push(h("a", { class: "btn btn-small btn-primary", href: `/w/${row.id}/`, target: "_blank", rel: "noopener", dataset: { action: "open" } },
      "Open workspace", h("span", { class: "visually-hidden" }, ` (${row.candidate_name}, opens in a new tab)`)));
  }
  buttons.push(actionButton("Logs", row, { dataset: { action: "logs" }, onclick: () => ctx.onLogs(row.id) }));
  if (ctx.canManage && !ending) {
    const label = row.kind === "live" ? "End now" : "Revoke";
    buttons.push(actionButton(label, row, { class: "btn btn-small btn-danger", dataset: { action: "end" }, onclick: () => ctx.onEnd(row.id) }));
  }
  return [h("div", { class: "actions" }, buttons)];
}

const LIVE_CELLS = [candidateCell, challengeCell, statusCell, scheduledCell, timeLeftCell, accessCell, actionsCell];

function validUntilCell(row) {
  return row.valid_until ? [timeElement(row.valid_until)] : [muted("—")];
}

function candidateLinkCell(row) {
  if (!row.candidate_url) return [muted("—")];
  return [copyField(row.candidate_url, `the candidate link for ${row.candidate_name}`, `link-${row.id}`)];
}

const TAKE_HOME_CELLS = [candidateCell, challengeCell, candidateLinkCell, statusCell, validUntilCell, timeLeftCell, actionsCell];

// labels: the table's column headings, repeated on each cell for the stacked (tablet) layout.
export function renderRow(row, ctx, labels) {
  const cells = row.kind === "live" ? LIVE_CELLS : TAKE_HOME_CELLS;
  return h("tr", { dataset: { id: row.id, status: row.status } },
    cells.map((cell, index) => h("td", { dataset: { label: labels[index] || "" } }, cell(row, ctx))));
}
