// "New live interview" and "New take-home": a form, checked by the API (errors appear next
// to their field), then the result the interviewer shares with the candidate.

import { ApiError, post } from "../../lib/api.js";
import { serverNow } from "../../lib/clock.js";
import { h, replaceChildren } from "../../lib/dom.js";
import { localInputToIso, timeElement, viewerTimeZone } from "../../lib/time.js";
import { fieldErrorsOf, openModal, showFieldErrors } from "../../lib/ui.js";
import { bindChallengePicker, resetChallengePicker } from "./challenge_picker.js";
import { bindMarkdownPreview } from "./markdown_preview.js";
import { copyField } from "./rows.js";

const TAB_OF = { live: { href: "/interviews", name: "Interviews" }, take_home: { href: "/take-homes", name: "Take-home tests" } };

function whole(value) {
  const text = String(value ?? "").trim();
  return /^\d+$/.test(text) ? Number(text) : text;
}

function hours(minutes) {
  const full = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return [full ? `${full} h` : "", rest ? `${rest} min` : ""].filter(Boolean).join(" ");
}

// "YYYY-MM-DDTHH:MM" in the viewer's zone, for <input type="datetime-local">.
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// What the browser can say better than the API: nothing typed or picked, a time in the
// past. Everything else (lengths, ranges) the API checks and names the field.
function checkRequired(data, errors) {
  if (!String(data.get("candidate_name") || "").trim()) errors.candidate_name = "Enter the candidate's name.";
  if (!data.get("challenge")) errors.challenge = "Choose a challenge from the list.";
}

const BODIES = {
  live(data) {
    const errors = {};
    checkRequired(data, errors);
    const body = {
      kind: "live",
      candidate_name: data.get("candidate_name") || "",
      challenge: data.get("challenge") || "",
      duration_minutes: whole(data.get("duration_minutes")),
    };
    if (data.get("start") === "scheduled") {
      const iso = localInputToIso(data.get("scheduled_at"));
      if (!iso) errors.scheduled_at = "Choose a date and time, or start now.";
      else if (Date.parse(iso) < serverNow() - 60_000) errors.scheduled_at = "That time has passed: choose a later one, or start now.";
      else body.scheduled_at = iso;
    }
    return { body, errors };
  },
  take_home(data) {
    const errors = {};
    checkRequired(data, errors);
    const body = {
      kind: "take_home",
      candidate_name: data.get("candidate_name") || "",
      candidate_email: data.get("candidate_email") || null,
      challenge: data.get("challenge") || "",
      custom_instructions: data.get("custom_instructions") || null,
      valid_days: whole(data.get("valid_days")),
      duration_minutes: whole(data.get("duration_minutes")),
    };
    return { body, errors };
  },
};

// Pydantic prefixes its messages ("Value error, ..."); people need only the sentence.
function tidy(message) {
  const text = String(message || "").replace(/^(Value|Assertion) error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function showErrors(form, errors) {
  const alert = form.querySelector("[data-form-error]");
  const fields = {};
  let general = null;
  for (const [field, message] of Object.entries(errors)) {
    if (field === "_form") general = tidy(message);
    else fields[field] = tidy(message);
  }
  alert.hidden = !general;
  alert.textContent = general || "";
  showFieldErrors(form, fields);
  // The challenge's radios sit in a list: its error belongs under the whole list.
  const picker = form.querySelector("[data-challenge-picker]");
  const note = form.querySelector(`#${CSS.escape(form.id)}-challenge-error`);
  if (picker && note) picker.after(note);
  if (general && !Object.keys(fields).length) alert.scrollIntoView({ block: "nearest" });
}

function errorsOf(error) {
  if (error.status === 429) {
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} seconds.` : " Try again in a minute.";
    return { _form: `${error.message}.${wait}`.replace("..", ".") };
  }
  if (error.status === 422) return fieldErrorsOf(error);
  return { _form: error.message };
}

function resultActions(onAgain) {
  return h("div", { class: "dialog-actions" },
    h("button", { class: "btn", type: "button", onclick: onAgain }, "Create another"),
    h("button", { class: "btn btn-primary", type: "button", "data-close": true }, "Done"));
}

function otherTabNote(kind, pageKind) {
  if (kind === pageKind) return null;
  const tab = TAB_OF[kind];
  return h("p", { class: "muted" }, "It is listed on the ", h("a", { href: tab.href }, tab.name), " tab.");
}

const RESULTS = {
  live(created, pageKind) {
    const when = created.scheduled_at
      ? h("p", {}, "Scheduled for ", timeElement(created.scheduled_at), ". The workspace starts 5 minutes early.")
      : h("p", {}, "The workspace is starting now. Share the join link and the password with the candidate.");
    return [
      h("div", { class: "alert alert-ok", role: "status" }, `Live interview with ${created.candidate_name} created.`),
      when,
      h("dl", { class: "facts result-facts" },
        h("dt", {}, "Join link"), h("dd", {}, copyField(created.join_url, "the join link", "created-join-url")),
        h("dt", {}, "Password"), h("dd", {}, copyField(created.password || "", "the workspace password", "created-password")),
        h("dt", {}, "Duration"), h("dd", {}, hours(created.duration_minutes))),
      otherTabNote("live", pageKind),
    ];
  },
  take_home(created, pageKind) {
    return [
      h("div", { class: "alert alert-ok", role: "status" }, `Take-home for ${created.candidate_name} created.`),
      h("p", {}, "Send the candidate this link. They can start any time until it expires; the test then runs for ",
        hours(created.duration_minutes), "."),
      h("dl", { class: "facts result-facts" },
        h("dt", {}, "Passcode"), h("dd", {}, h("code", { class: "passcode", "data-passcode": "" }, created.passcode)),
        h("dt", {}, "Link"), h("dd", {}, copyField(created.candidate_url, "the candidate link", "created-candidate-url")),
        h("dt", {}, "Valid until"), h("dd", {}, timeElement(created.valid_until))),
      otherTabNote("take_home", pageKind),
    ];
  },
};

function bindDialog(dialog, { pageKind, onCreated }) {
  const kind = dialog.dataset.createDialog;
  const form = dialog.querySelector("[data-create-form]");
  const result = dialog.querySelector("[data-create-result]");
  const picker = form.querySelector("[data-challenge-picker]");
  const submit = form.querySelector('button[type="submit"]');
  const instructions = form.querySelector(".instructions-field");
  const preview = instructions ? bindMarkdownPreview(instructions) : null;
  if (picker) bindChallengePicker(picker);

  const schedule = form.querySelector('input[name="scheduled_at"]');
  if (schedule) {
    for (const zone of form.querySelectorAll("[data-time-zone]")) zone.textContent = viewerTimeZone;
    for (const radio of form.querySelectorAll('input[name="start"]')) {
      radio.addEventListener("change", () => {
        const later = form.querySelector('input[name="start"]:checked').value === "scheduled";
        schedule.disabled = !later;
        schedule.closest("[data-schedule-field]").hidden = !later;
        if (later) {
          const now = new Date(serverNow());
          schedule.min = localInputValue(now);
          if (!schedule.value) {
            const nextHour = new Date(now);
            nextHour.setHours(now.getHours() + 1, 0, 0, 0);
            schedule.value = localInputValue(nextHour);
          }
        }
      });
    }
  }

  const reset = () => {
    form.reset();
    showErrors(form, {});
    if (picker) resetChallengePicker(picker);
    if (preview) preview.reset();
    if (schedule) {
      schedule.disabled = true;
      schedule.closest("[data-schedule-field]").hidden = true;
    }
    form.hidden = false;
    result.hidden = true;
    result.replaceChildren();
  };

  const again = () => {
    reset();
    form.querySelector("[autofocus]")?.focus();
  };

  // A field's error goes as soon as the field is changed: stale errors mislead.
  const clearError = (event) => {
    const name = event.target.name;
    if (!name) return;
    form.querySelector(`#${CSS.escape(`${form.id}-${name}-error`)}`)?.remove();
    for (const input of form.querySelectorAll(`[name="${CSS.escape(name)}"][aria-invalid]`)) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  };
  form.addEventListener("input", clearError);
  form.addEventListener("change", clearError);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body, errors } = BODIES[kind](new FormData(form));
    showErrors(form, errors);
    if (Object.keys(errors).length) return;
    const label = submit.textContent;
    submit.disabled = true;
    submit.textContent = "Creating…";
    try {
      const created = await post("/api/interviews", body);
      onCreated(created);
      form.hidden = true;
      replaceChildren(result, RESULTS[kind](created, pageKind), resultActions(again));
      result.hidden = false;
      result.focus();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, errorsOf(error));
    } finally {
      submit.disabled = false;
      submit.textContent = label;
    }
  });

  return () => {
    reset();
    openModal(dialog);
  };
}

// Every [data-open-create="live|take_home"] button opens its dialog.
export function bindCreateDialogs({ pageKind, onCreated }) {
  const openers = {};
  for (const dialog of document.querySelectorAll("[data-create-dialog]")) {
    openers[dialog.dataset.createDialog] = bindDialog(dialog, { pageKind, onCreated });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-open-create]");
    if (button && openers[button.dataset.openCreate]) openers[button.dataset.openCreate]();
  });
}
