// Who is here: the shared document's awareness states, one entry per person (the agent stamps
// each state with the connection's identity in `prequel`; `user` only carries the color).
// Someone with several tabs is listed once. Joins and leaves are reported for the chat.
import type { Awareness } from "y-protocols/awareness";

import { Emitter } from "./events";

export interface Participant {
  id: string;
  name: string;
  role: string;
  color: string;
  self: boolean;
}

export interface PresenceEvents {
  joined: Participant;
  left: Participant;
}

const ROLE_LABELS: Record<string, string> = {
  candidate: "Candidate",
  interviewer: "Interviewer",
  spectator: "Spectator",
};

export class Presence extends Emitter<PresenceEvents> {
  private readonly list: HTMLUListElement;
  private awareness: Awareness | null = null;
  private known = new Map<string, Participant>();
  // Quiet while a (re)connection brings everyone's states at once: those are not joins.
  private quiet = true;
  private readonly onChange = (): void => this.refresh();

  /** `self` answers who this browser is (the agent's `hello`), null until it is known. */
  constructor(
    parent: HTMLElement,
    private readonly self: () => { id: string; name: string; role: string } | null,
    private readonly selfColor: string,
  ) {
    super();
    this.list = document.createElement("ul");
    this.list.className = "ide-people";
    this.list.setAttribute("aria-label", "People in this workspace");
    parent.append(this.list);
  }

  refreshSelf(): void {
    this.refresh();
  }

  /** From now on, people who appear or go are announced. */
  settle(): void {
    this.refresh();
    this.quiet = false;
  }

  bind(awareness: Awareness): void {
    this.quiet = true;
    this.awareness?.off("change", this.onChange);
    this.awareness = awareness;
    awareness.on("change", this.onChange);
    this.refresh();
  }

  private participants(): Map<string, Participant> {
    const people = new Map<string, Participant>();
    if (!this.awareness) return people;
    const selfId = this.awareness.clientID;
    const me = this.self();
    if (me) people.set(me.id, { ...me, color: this.selfColor, self: true });
    for (const [clientId, state] of this.awareness.getStates()) {
      if (clientId === selfId) continue;
      const stamp = (state as { prequel?: { id?: unknown; name?: unknown; role?: unknown } })
        .prequel;
      const user = (state as { user?: { color?: unknown } }).user;
      if (typeof stamp?.id !== "string") continue;
      const existing = people.get(stamp.id);
      const self = existing?.self === true;
      people.set(stamp.id, {
        id: stamp.id,
        name: typeof stamp.name === "string" ? stamp.name : stamp.id,
        role: typeof stamp.role === "string" ? stamp.role : "candidate",
        color: typeof user?.color === "string" ? user.color : "#64748b",
        self,
      });
    }
    return people;
  }

  private refresh(): void {
    const now = this.participants();
    // Our own local state carries no stamp: the agent's hello says who we are.
    if (!this.quiet) {
      for (const [id, person] of now) if (!this.known.has(id) && !person.self) this.emit("joined", person);
      for (const [id, person] of this.known) if (!now.has(id) && !person.self) this.emit("left", person);
    }
    this.known = now;
    const items = [...now.values()]
      .sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name))
      .map((person) => {
        const item = document.createElement("li");
        item.className = "ide-person";
        item.dataset.role = person.role;
        const dot = document.createElement("span");
        dot.className = "ide-person-dot";
        dot.style.backgroundColor = person.color;
        dot.setAttribute("aria-hidden", "true");
        const name = document.createElement("span");
        name.className = "ide-person-name";
        name.textContent = person.self ? `${person.name} (you)` : person.name;
        const role = document.createElement("span");
        role.className = "ide-person-role";
        role.textContent = ROLE_LABELS[person.role] ?? person.role;
        item.append(dot, name, role);
        item.title = `${person.name} · ${role.textContent}`;
        return item;
      });
    this.list.replaceChildren(...items);
  }
}
