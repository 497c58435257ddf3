// Status names, badges and provisioning steps, the same on every page. Badges carry a
// symbol and words, so color is never the only signal.

import { h } from "./dom.js";

export const STATUS = {
  scheduled: { label: "Scheduled", tone: "info", icon: "◷" },
  invited: { label: "Invited", tone: "info", icon: "✉" },
  activated: { label: "Starting", tone: "progress", icon: "◌" },
  initializing: { label: "Initializing", tone: "progress", icon: "◌" },
  configuring: { label: "Configuring", tone: "progress", icon: "◌" },
  active: { label: "Active", tone: "ok", icon: "●" },
  destroying: { label: "Saving work", tone: "progress", icon: "◌" },
  destroyed: { label: "Ended", tone: "neutral", icon: "■" },
  error: { label: "Error", tone: "danger", icon: "!" },
};

export const END_REASON = {
  time_up: "Time up",
  ended_by_interviewer: "Ended by interviewer",
  revoked: "Revoked",
  submitted: "Submitted",
  expired: "Expired",
  failed: "Failed",
};

export function statusBadge(status, endReason) {
  const info = STATUS[status] || { label: status, tone: "neutral", icon: "•" };
  const label = status === "destroyed" && endReason ? END_REASON[endReason] || info.label : info.label;
  return h("span", { class: `status status-${info.tone}`, dataset: { status } },
    h("span", { class: "status-icon", "aria-hidden": "true" }, info.icon), label);
}

// The provisioning steps in order, and which one an interview is on.
export const STEPS = [
  { status: "activated", label: "Starting" },
  { status: "initializing", label: "Creating the workspace" },
  { status: "configuring", label: "Copying the challenge files" },
  { status: "active", label: "Ready" },
];

export function isProvisioning(status) {
  return status === "activated" || status === "initializing" || status === "configuring";
}

export function stepIndex(status) {
  return STEPS.findIndex((step) => step.status === status);
}

// <ol class="steps"> with done, current and pending steps (words and symbols, not only color).
export function stepsList(status) {
  const current = stepIndex(status);
  return h("ol", { class: "steps", "aria-label": "Provisioning progress" },
    STEPS.map((step, index) => {
      const state = index < current || status === "active" ? "done" : index === current ? "current" : "pending";
      return h("li", { class: `step step-${state}`, "aria-current": state === "current" ? "step" : null },
        h("span", { class: "step-mark", "aria-hidden": "true" }, state === "done" ? "✓" : state === "current" ? "◌" : "○"),
        h("span", {}, step.label),
        h("span", { class: "visually-hidden" }, state === "done" ? " (done)" : state === "current" ? " (in progress)" : ""));
    }));
}
