// Settings → Reports (admins): the overall score's weights and the scorecard's criteria,
// saved with PUT /api/settings/report. A new criterion's key is made from its label.

import { put } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { toast } from "../lib/ui.js";

const form = document.querySelector("[data-report-settings]");
const rows = form?.querySelector("[data-criteria]");

function keyOf(label, taken) {
  const base = (label.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "criterion")
    .replace(/^[^a-z]+/, "")
    .slice(0, 36) || "criterion";
  let key = base;
  for (let n = 2; taken.has(key); n += 1) key = `${base}_${n}`;
  return key;
}

function newRow() {
  return h("div", { class: "criterion-row", dataset: { criterion: "" } },
    h("label", {}, "Label ", h("input", { type: "text", name: "label", maxlength: "80", required: true })),
    h("label", {}, "Description ", h("input", { type: "text", name: "description", maxlength: "500" })),
    h("input", { type: "hidden", name: "key", value: "" }),
    h("button", { class: "btn btn-small btn-quiet", type: "button", dataset: { removeCriterion: "" } }, "Remove"));
}

if (form && rows && form.querySelector("button[type=submit]")) {
  form.querySelector("[data-add-criterion]").addEventListener("click", () => {
    const row = newRow();
    rows.append(row);
    row.querySelector("input").focus();
  });
  rows.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-criterion]");
    if (button) button.closest("[data-criterion]").remove();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector("[data-report-settings-error]");
    const weights = {};
    for (const input of form.querySelectorAll('input[name^="weight-"]')) {
      weights[input.name.slice("weight-".length)] = Number(input.value);
    }
    const taken = new Set();
    const criteria = [...rows.querySelectorAll("[data-criterion]")].map((row) => {
      const label = row.querySelector('[name="label"]').value.trim();
      const keyInput = row.querySelector('[name="key"]');
      const key = keyInput.value || keyOf(label, taken);
      taken.add(key);
      return { key, label, description: row.querySelector('[name="description"]').value.trim() };
    });
    error.hidden = true;
    try {
      const saved = await put("/api/settings/report", { criteria, weights });
      [...rows.querySelectorAll("[data-criterion]")].forEach((row, index) => {
        row.querySelector('[name="key"]').value = saved.criteria[index].key;
      });
      toast("Report settings saved");
    } catch (exc) {
      const details = (exc.details || []).map((d) => d.message).join("; ");
      error.textContent = details ? `${exc.message} (${details})` : exc.message;
      error.hidden = false;
    }
  });
}
