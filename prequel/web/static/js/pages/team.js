// The team page: add a member, change roles, remove members. The server renders the rows;
// after each change this script re-renders them from its copy of the member list, so the
// last-owner locks follow every change without a reload.

import { del, patch, post } from "../lib/api.js";
import { h, pageData, replaceChildren } from "../lib/dom.js";
import { timeElement } from "../lib/time.js";
import { confirmDialog, fieldErrorsOf, openModal, showFieldErrors, toast } from "../lib/ui.js";

const RANK = { viewer: 0, interviewer: 1, admin: 2, owner: 3 };
const data = pageData("team-data");
const rows = document.getElementById("member-rows");
let members = data ? data.members : [];

const roleLabel = (role) => role.charAt(0).toUpperCase() + role.slice(1);
const ownerCount = () => members.filter((m) => m.role === "owner").length;
const memberById = (id) => members.find((m) => m.id === id);

// The same rule as lock_reason() in prequel/web/routes/team_pages.py.
function lockReason(member) {
  if (member.role === "owner" && data.viewer.role !== "owner") return "Only an owner can change or remove an owner.";
  if (member.role === "owner" && ownerCount() <= 1) return "The only owner. Make someone else owner first.";
  return null;
}

function roleControl(member, lock, lockId) {
  const roles = data.roles.includes(member.role) ? data.roles : [member.role, ...data.roles];
  const selectId = `role-${member.id}`;
  return [
    h("label", { class: "visually-hidden", for: selectId }, `Role for ${member.name}`),
    h("select", { id: selectId, class: "role-select", dataset: { roleSelect: "" }, disabled: Boolean(lock), "aria-describedby": lock ? lockId : null },
      roles.map((role) => h("option", { value: role, selected: role === member.role }, roleLabel(role)))),
    lock ? h("p", { class: "hint member-lock", id: lockId }, lock) : null,
  ];
}

function memberRow(member) {
  const lock = data.can_manage ? lockReason(member) : null;
  const lockId = `lock-${member.id}`;
  const cells = [
    h("th", { scope: "row", class: "member-name" }, h("span", {}, member.name),
      member.id === data.viewer.id ? [" ", h("span", { class: "badge member-you" }, "You")] : null),
    h("td", { class: "member-email" }, member.email),
    h("td", { class: "member-role" }, data.can_manage
      ? roleControl(member, lock, lockId)
      : h("span", { class: `role-badge role-${member.role}` }, roleLabel(member.role))),
    h("td", { class: "member-login" }, member.last_login_at
      ? timeElement(member.last_login_at)
      : h("span", { class: "muted" }, "Never")),
  ];
  if (data.can_manage) {
    cells.push(h("td", { class: "member-actions" },
      h("button", {
        class: "btn btn-small btn-remove", type: "button", dataset: { removeMember: "" },
        "aria-label": `Remove ${member.name}`, disabled: Boolean(lock), "aria-describedby": lock ? lockId : null,
      }, "Remove")));
  }
  return h("tr", { dataset: { memberId: member.id, role: member.role } }, cells);
}

function render(focusId, focusSelector = "[data-role-select]") {
  replaceChildren(rows, members.map(memberRow));
  if (!focusId) return;
  const row = rows.querySelector(`[data-member-id="${CSS.escape(focusId)}"]`);
  const target = row && row.querySelector(focusSelector);
  if (target && !target.disabled) target.focus();
}

function confirmation(member, role) {
  const demoting = RANK[role] < RANK[member.role];
  if (member.id === data.viewer.id && demoting) {
    return {
      title: "Change your own role?",
      message: `You will be ${roleLabel(role).toLowerCase()} instead of ${member.role} at once, and only an admin or owner can change it back.`,
      confirmLabel: `Make me ${roleLabel(role).toLowerCase()}`,
    };
  }
  if (member.role === "owner" && role !== "owner") {
    return {
      title: `Demote ${member.name}?`,
      message: `${member.name} will no longer be an owner and will lose the rights of one at once.`,
      confirmLabel: `Make ${roleLabel(role).toLowerCase()}`,
    };
  }
  return null;
}

async function changeRole(select) {
  delete select.dataset.pending;
  const member = memberById(select.closest("tr").dataset.memberId);
  const role = select.value;
  if (!member || role === member.role) return;
  const ask = confirmation(member, role);
  if (ask && !(await confirmDialog({ ...ask, danger: true }))) {
    render(member.id);
    return;
  }
  select.disabled = true;
  try {
    const changed = await patch(`/api/users/${encodeURIComponent(member.id)}`, { role });
    member.role = changed.role;
    toast(`${member.name} is now ${roleLabel(changed.role).toLowerCase()}.`);
    if (member.id === data.viewer.id) {
      // What this page offers depends on the viewer's own role.
      window.location.reload();
      return;
    }
  } catch (error) {
    toast(error.message, "error");
  }
  render(member.id);
}

async function removeMember(button) {
  const member = memberById(button.closest("tr").dataset.memberId);
  if (!member) return;
  const self = member.id === data.viewer.id;
  const confirmed = await confirmDialog({
    title: self ? "Leave the organization?" : `Remove ${member.name}?`,
    message: self
      ? "You lose access at once and are logged out. Only an admin or owner can add you back."
      : `${member.name} (${member.email}) loses access at once: their sessions and API tokens stop working. Their interviews and history stay.`,
    confirmLabel: self ? "Leave" : "Remove",
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  try {
    await del(`/api/users/${encodeURIComponent(member.id)}`);
  } catch (error) {
    toast(error.message, "error");
    button.disabled = false;
    return;
  }
  if (self) {
    window.location.assign("/login");
    return;
  }
  const index = members.indexOf(member);
  members = members.filter((m) => m !== member);
  toast(`${member.name} was removed from the team.`);
  const next = members[Math.min(index, members.length - 1)];
  render(next && next.id, "[data-remove-member]");
}

function bindAddMember() {
  const dialog = document.getElementById("add-member-dialog");
  const opener = document.querySelector("[data-open-add-member]");
  if (!dialog || !opener) return;
  const form = document.getElementById("add-member-form");
  opener.addEventListener("click", () => {
    showFieldErrors(form, {});
    openModal(dialog);
    form.elements.name.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    // The API checks the X-CSRF-Token header; the form's hidden field is not part of the body.
    const { csrf_token: _csrf, ...values } = Object.fromEntries(new FormData(form));
    submit.disabled = true;
    try {
      const member = await post("/api/users", values);
      members = [...members, member];
      dialog.close();
      form.reset();
      showFieldErrors(form, {});
      render(member.id);
      toast(`${member.name} was added as ${member.role}.`);
    } catch (error) {
      showFieldErrors(form, fieldErrorsOf(error));
    } finally {
      submit.disabled = false;
    }
  });
}

// Arrow keys (and type-ahead) on a closed <select> change its value at once in Chrome on
// Linux and Windows, so a keyboard user passing over the roles would apply each one. A change
// made that way waits for Enter, or for focus to leave the select.
let keyedSelect = null;

function bindRoleSelects() {
  const roleSelect = (event) => event.target.closest("[data-role-select]");
  rows.addEventListener("keydown", (event) => {
    const select = roleSelect(event);
    if (!select) return;
    if (event.key === "Enter") {
      keyedSelect = null;
      if (select.dataset.pending) {
        event.preventDefault();
        changeRole(select);
      }
    } else if (!event.altKey && !["Tab", "Escape", " "].includes(event.key)) {
      keyedSelect = select;
    }
  });
  rows.addEventListener("change", (event) => {
    const select = roleSelect(event);
    if (!select) return;
    if (keyedSelect === select) {
      select.dataset.pending = "1";
      return;
    }
    changeRole(select);
  });
  rows.addEventListener("focusout", (event) => {
    const select = roleSelect(event);
    keyedSelect = null;
    if (select && select.dataset.pending) changeRole(select);
  });
}

if (data && rows) {
  bindRoleSelects();
  rows.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-member]");
    if (button && !button.disabled) removeMember(button);
  });
  bindAddMember();
}
