// The settings page: create an API token (shown once, with a copy button) and revoke tokens.
// The server renders the token rows; after a change they are re-rendered from this list.

import { del, post } from "../lib/api.js";
import { h, pageData, replaceChildren } from "../lib/dom.js";
import { timeElement } from "../lib/time.js";
import { confirmDialog, fieldErrorsOf, showFieldErrors, toast } from "../lib/ui.js";

const data = pageData("settings-data");
const rows = document.getElementById("token-rows");
const form = document.getElementById("token-form");
const shown = document.getElementById("new-token");
let tokens = data ? data.tokens : [];

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const when = (iso) => (iso ? timeElement(iso) : h("span", { class: "muted" }, "Never"));

function tokenRow(token) {
  return h("tr", { dataset: { tokenId: token.id, state: token.state } },
    h("th", { scope: "row" }, h("span", { class: "token-name" }, token.name), " ",
      h("code", { class: "token-prefix" }, `${token.prefix}…`)),
    h("td", {}, when(token.created_at)),
    h("td", {}, when(token.last_used_at)),
    h("td", {}, when(token.expires_at)),
    h("td", {}, h("span", { class: `token-state token-${token.state}` }, capitalize(token.state))),
    h("td", {}, token.state === "active"
      ? h("button", { class: "btn btn-small btn-remove", type: "button", dataset: { revokeToken: "" }, "aria-label": `Revoke ${token.name}` }, "Revoke")
      : null));
}

function render() {
  if (tokens.length === 0) {
    replaceChildren(rows, h("tr", { class: "token-empty" },
      h("td", { colspan: "6", class: "muted" }, "No tokens yet. Create one above for a script or CI job.")));
    return;
  }
  replaceChildren(rows, tokens.map(tokenRow));
}

function showOnce(token) {
  shown.querySelector("[data-new-token-name]").textContent = token.name;
  document.getElementById("new-token-value").textContent = token.token;
  shown.hidden = false;
  shown.querySelector("[data-copy-from]").focus();
}

function forgetShownToken() {
  shown.hidden = true;
  document.getElementById("new-token-value").textContent = "";
  form.elements.name.focus();
}

async function createToken(event) {
  event.preventDefault();
  const submit = form.querySelector('button[type="submit"]');
  const name = form.elements.name.value.trim();
  if (!name) {
    showFieldErrors(form, { name: "Give the token a name, so you can tell it apart later." });
    return;
  }
  submit.disabled = true;
  try {
    const created = await post("/api/tokens", {
      name,
      expires_in_days: Number(form.elements.expires_in_days.value),
    });
    const { token: _secret, ...listed } = created;
    tokens = [{ ...listed, state: "active" }, ...tokens];
    render();
    showFieldErrors(form, {});
    form.elements.name.value = "";
    showOnce(created);
    toast(`Token “${created.name}” created.`);
  } catch (error) {
    showFieldErrors(form, fieldErrorsOf(error));
  } finally {
    submit.disabled = false;
  }
}

async function revokeToken(button) {
  const token = tokens.find((t) => t.id === button.closest("tr").dataset.tokenId);
  if (!token) return;
  const confirmed = await confirmDialog({
    title: `Revoke “${token.name}”?`,
    message: "Scripts using this token stop working at once. This cannot be undone; you can create a new token.",
    confirmLabel: "Revoke token",
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  try {
    await del(`/api/tokens/${encodeURIComponent(token.id)}`);
  } catch (error) {
    toast(error.message, "error");
    button.disabled = false;
    return;
  }
  token.state = "revoked";
  token.revoked_at = new Date().toISOString();
  render();
  form.elements.name.focus();
  toast(`Token “${token.name}” revoked.`);
}

if (data && rows && form && shown) {
  form.addEventListener("submit", createToken);
  shown.querySelector("[data-dismiss-token]").addEventListener("click", forgetShownToken);
  rows.addEventListener("click", (event) => {
    const button = event.target.closest("[data-revoke-token]");
    if (button && !button.disabled) revokeToken(button);
  });
}
