// Write / Preview for the take-home's custom instructions. The preview is rendered by the
// server with the same safe Markdown renderer the candidate's page uses (raw HTML in the
// source comes back escaped), so its answer is the one string on this page that is inserted
// as markup.

import { post } from "../../lib/api.js";
import { h, replaceChildren } from "../../lib/dom.js";

export function bindMarkdownPreview(field) {
  const textarea = field.querySelector("textarea");
  const preview = field.querySelector("[data-md-preview]");
  const buttons = [...field.querySelectorAll("[data-md-mode]")];

  const show = async (mode) => {
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.mdMode === mode));
    textarea.hidden = mode === "preview";
    preview.hidden = mode !== "preview";
    if (mode !== "preview") return;
    if (!textarea.value.trim()) {
      replaceChildren(preview, h("p", { class: "muted" }, "Nothing to preview yet: write the instructions first."));
      return;
    }
    replaceChildren(preview, h("p", { class: "muted" }, "Rendering…"));
    try {
      const { html } = await post("/interviews/preview-markdown", { text: textarea.value });
      preview.innerHTML = html; // server-sanitized Markdown (see the note at the top)
    } catch (error) {
      replaceChildren(preview, h("p", { class: "field-error" }, `The preview failed: ${error.message}`));
    }
  };
  for (const button of buttons) button.addEventListener("click", () => show(button.dataset.mdMode));
  return { reset: () => show("write") };
}
