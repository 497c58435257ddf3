// The challenge list in the create dialogs: a filter box over native radio buttons, so the
// arrow keys, Tab and screen readers work as they do for any radio group.

export function bindChallengePicker(picker) {
  const search = picker.querySelector("[data-challenge-search]");
  if (!search) return;
  const options = [...picker.querySelectorAll(".challenge-option")];
  const noMatch = picker.querySelector("[data-no-match]");
  const visible = () => options.filter((option) => !option.hidden);

  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const option of options) {
      const text = option.dataset.search || "";
      // A checked option stays visible, so the choice is never hidden by a later search.
      option.hidden = !option.querySelector("input").checked && !words.every((word) => text.includes(word));
    }
    noMatch.hidden = visible().length > 0;
  });
  // Enter picks the first match instead of submitting the form.
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const first = visible()[0];
    if (first) {
      const radio = first.querySelector("input");
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      radio.focus();
    }
  });
}

export function resetChallengePicker(picker) {
  const search = picker.querySelector("[data-challenge-search]");
  if (search) search.value = "";
  for (const option of picker.querySelectorAll(".challenge-option")) option.hidden = false;
  picker.querySelector("[data-no-match]")?.setAttribute("hidden", "");
}
