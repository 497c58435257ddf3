// The workspace password forms: /join/{id} (a live interview: name and password) and the
// take-home's /w/{id}/ sign-in (password only). On success the browser holds the candidate
// session for that interview and goes to the workspace.

import { post } from "../lib/api.js";
import { pageData } from "../lib/dom.js";
import { fieldErrorsOf, showFieldErrors } from "../lib/ui.js";

const data = pageData("join-data");
const form = document.querySelector("[data-join-form]");
const formError = form && form.querySelector("[data-form-error]");

function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function showFormError(message) {
  formError.textContent = message;
  formError.hidden = false;
}

async function submit(event) {
  event.preventDefault();
  formError.hidden = true;
  showFieldErrors(form, {});
  // showFieldErrors points aria-describedby at the error; give the inputs their hints back.
  for (const input of form.querySelectorAll("input[id]")) {
    if (document.getElementById(`${input.id}-hint`)) input.setAttribute("aria-describedby", `${input.id}-hint`);
  }
  const body = { password: form.elements.password.value };
  if (form.elements.display_name) body.display_name = form.elements.display_name.value;
  const missing = {};
  if (form.elements.display_name && !body.display_name.trim()) missing.display_name = "Enter the name your interviewer should see.";
  if (!body.password.trim()) missing.password = "Enter the workspace password.";
  if (Object.keys(missing).length) {
    showFieldErrors(form, missing);
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    await post(data.join_url, body);
    button.textContent = "Opening…";
    window.location.assign(data.workspace_url);
    return;
  } catch (error) {
    const errors = fieldErrorsOf(error);
    if (errors._form || error.status === 429 || error.status === 410 || error.status === 409) {
      showFormError(sentence(error.message));
    } else {
      const shown = {};
      for (const [name, message] of Object.entries(errors)) shown[name] = sentence(message);
      showFieldErrors(form, shown);
    }
    if (error.status === 403 && form.elements.password) form.elements.password.select();
  }
  button.disabled = false;
  button.textContent = label;
}

if (form) form.addEventListener("submit", submit);
