// Toasts, confirmation dialogs, modals and copy buttons, shared by every page.

import { h } from "./dom.js";

export function toast(message, kind = "ok") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "toast-icon", "aria-hidden": "true" }, kind === "error" ? "!" : "✓"),
    h("span", {}, message));
  region.append(item);
  setTimeout(() => item.classList.add("is-leaving"), kind === "error" ? 7000 : 4000);
  setTimeout(() => item.remove(), kind === "error" ? 7400 : 4400);
}

// Resolves true when the user confirms. Uses the <dialog id="confirm-dialog"> in base.html.
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("[data-confirm-title]").textContent = title;
  dialog.querySelector("[data-confirm-message]").textContent = message;
  const button = dialog.querySelector("[data-confirm-ok]");
  button.textContent = confirmLabel;
  button.classList.toggle("btn-danger", danger);
  button.classList.toggle("btn-primary", !danger);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

// Closes on Escape (native), on the close buttons and on a click on the backdrop.
export function openModal(dialog) {
  if (!dialog.dataset.bound) {
    dialog.dataset.bound = "1";
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog || event.target.closest("[data-close]")) dialog.close();
    });
  }
  dialog.showModal();
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-http deployments have no async clipboard: fall back to a hidden textarea.
  const area = h("textarea", { class: "visually-hidden", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

// <button data-copy="text to copy"> or <button data-copy-from="#element-id">.
export function bindCopyButtons(root = document) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button || !root.contains(button)) return;
    let text = button.dataset.copy;
    if (text === undefined) {
      const source = document.querySelector(button.dataset.copyFrom);
      text = source ? (source.value ?? source.textContent) : "";
    }
    try {
      await copyText(text.trim());
      const label = button.dataset.label || button.textContent;
      button.dataset.label = label;
      button.textContent = "Copied";
      button.classList.add("is-copied");
      setTimeout(() => {
        button.textContent = label;
        button.classList.remove("is-copied");
      }, 1500);
      toast("Copied to the clipboard");
    } catch {
      toast("Copying failed: select the text and copy it by hand", "error");
    }
  });
}

// Shows a field's error next to it, and clears the others of that form.
export function showFieldErrors(form, errors) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  let first = null;
  for (const [field, message] of Object.entries(errors)) {
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    const id = `${form.id || "form"}-${field}-error`;
    const note = h("p", { class: "field-error", id, role: "alert" }, message);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      (input.closest("label") || input).after(note);
      first = first || input;
    } else {
      form.prepend(note);
    }
  }
  if (first) first.focus();
}

// Field errors from an ApiError: {field: message}. Validation errors list
// {field: "live.duration_minutes", message} in details; the last part names the input.
export function fieldErrorsOf(error) {
  const errors = {};
  for (const item of Array.isArray(error.details) ? error.details : []) {
    const field = String(item.field || "").split(".").pop();
    if (field && field !== "request" && !errors[field]) errors[field] = item.message;
  }
  if (error.field && !errors[error.field]) errors[error.field] = error.message;
  return Object.keys(errors).length ? errors : { _form: error.message };
}
