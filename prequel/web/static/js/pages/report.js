// The report page: printing, times of key moments relative to the start, and saving the
// viewer's scorecard (PUT /api/interviews/{id}/scorecard), then reloading to show it.

import { put } from "../lib/api.js";
import { pageData } from "../lib/dom.js";
import { toast } from "../lib/ui.js";

const data = pageData("report-data");

export function clockTime(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

for (const el of document.querySelectorAll(".moment-time")) {
  const ts = Number(el.dataset.ts);
  const start = Number(el.dataset.start);
  if (ts && start) el.textContent = clockTime(ts - start);
}

document.querySelector("[data-print]")?.addEventListener("click", () => window.print());

const form = document.querySelector("[data-scorecard-form]");
if (form && data) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector("[data-form-error]");
    const button = form.querySelector("button[type=submit]");
    const ratings = {};
    for (const criterion of data.criteria) {
      const checked = form.querySelector(`input[name="rating-${criterion.key}"]:checked`);
      if (checked) ratings[criterion.key] = Number(checked.value);
    }
    const body = {
      ratings,
      notes: form.elements.notes.value,
      recommendation: form.elements.recommendation.value || null,
    };
    error.hidden = true;
    button.disabled = true;
    button.textContent = "Saving…";
    try {
      await put(`/api/interviews/${data.id}/scorecard`, body);
      toast("Scorecard saved");
      window.location.hash = "scorecards";
      window.location.reload();
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
      button.disabled = false;
      button.textContent = "Save scorecard";
    }
  });
}
