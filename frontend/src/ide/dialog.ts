// Small modal dialogs (confirm, ask for a name) on <dialog>, so focus is trapped and Escape
// cancels, with no framework and no inline style.
function button(label: string, value: string, className: string): HTMLButtonElement {
  const node = document.createElement("button");
  node.type = "submit";
  node.value = value;
  node.className = className;
  node.textContent = label;
  return node;
}

interface DialogOptions {
  title: string;
  message?: string;
  confirmLabel: string;
  danger?: boolean;
  /** Shows a text field with this initial value; the answer is its trimmed text. */
  input?: { label: string; value: string; validate?: (value: string) => string | null };
}

/** Resolves to the field's text (or "" without a field) when confirmed, null when cancelled. */
export function openDialog(options: DialogOptions): Promise<string | null> {
  const dialog = document.createElement("dialog");
  dialog.className = "ide-dialog";
  const form = document.createElement("form");
  form.method = "dialog";
  const heading = document.createElement("h2");
  heading.textContent = options.title;
  heading.id = `ide-dialog-${Date.now()}`;
  dialog.setAttribute("aria-labelledby", heading.id);
  form.append(heading);
  if (options.message) {
    const message = document.createElement("p");
    message.className = "muted";
    message.textContent = options.message;
    form.append(message);
  }
  const ok = button(
    options.confirmLabel,
    "confirm",
    options.danger ? "btn btn-danger" : "btn btn-primary",
  );
  let field: HTMLInputElement | null = null;
  const error = document.createElement("p");
  error.className = "ide-dialog-error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  if (options.input) {
    const label = document.createElement("label");
    label.textContent = options.input.label;
    field = document.createElement("input");
    field.type = "text";
    field.value = options.input.value;
    field.spellcheck = false;
    field.autocomplete = "off";
    label.append(field);
    form.append(label, error);
    // Implicit submission would press the first button (Cancel): Enter means the action.
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        ok.click();
      }
    });
  }
  const actions = document.createElement("div");
  actions.className = "ide-dialog-actions";
  actions.append(button("Cancel", "cancel", "btn"), ok);
  form.append(actions);
  dialog.append(form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    form.addEventListener("submit", (event) => {
      const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null;
      if (submitter?.value !== "confirm" || !field || !options.input?.validate) return;
      const problem = options.input.validate(field.value.trim());
      if (problem) {
        event.preventDefault();
        error.textContent = problem;
        error.hidden = false;
        field.setAttribute("aria-invalid", "true");
        field.focus();
      }
    });
    dialog.addEventListener("close", () => {
      const confirmed = dialog.returnValue === "confirm";
      dialog.remove();
      resolve(confirmed ? (field?.value.trim() ?? "") : null);
    });
    dialog.showModal();
    if (field) {
      field.focus();
      // Select the name without its extension, like file managers do.
      const dot = field.value.lastIndexOf(".");
      const slash = field.value.lastIndexOf("/");
      field.setSelectionRange(slash + 1, dot > slash + 1 ? dot : field.value.length);
    } else {
      ok.focus();
    }
  });
}

export async function confirmAction(
  title: string,
  message: string,
  confirmLabel: string,
  danger = true,
): Promise<boolean> {
  return (await openDialog({ title, message, confirmLabel, danger })) !== null;
}
