// The editor's tabs: the files opened in this browser, the active one highlighted. Which files
// are open is this browser's own choice (kept per interview in localStorage), never shared.
import { Emitter } from "./events";

export interface TabEvents {
  select: string;
  close: string;
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

export class Tabs extends Emitter<TabEvents> {
  private readonly strip: HTMLDivElement;
  open: string[] = [];
  active: string | null = null;

  constructor(
    parent: HTMLElement,
    private readonly storageKey: string,
  ) {
    super();
    this.strip = document.createElement("div");
    this.strip.className = "ide-tabs";
    this.strip.setAttribute("role", "tablist");
    this.strip.setAttribute("aria-label", "Open files");
    parent.append(this.strip);
    this.strip.addEventListener("click", (event) => {
      const target = (event.target as Element).closest<HTMLElement>("[data-path]");
      if (!target?.dataset.path) return;
      if (target.dataset.role === "close") this.emit("close", target.dataset.path);
      else this.emit("select", target.dataset.path);
    });
    this.strip.addEventListener("auxclick", (event) => {
      const target = (event.target as Element).closest<HTMLElement>("[data-path]");
      if (event.button === 1 && target?.dataset.path) this.emit("close", target.dataset.path);
    });
    try {
      const saved = JSON.parse(localStorage.getItem(storageKey) ?? "null") as unknown;
      if (Array.isArray(saved)) this.open = saved.filter((p): p is string => typeof p === "string");
    } catch {
      this.open = [];
    }
  }

  /** Opens `path` (adding its tab) and makes it active. */
  show(path: string | null): void {
    if (path !== null && !this.open.includes(path)) this.open.push(path);
    this.active = path;
    this.render();
  }

  /** Drops `path`; answers the tab that becomes active when it was the active one. */
  close(path: string): string | null {
    const index = this.open.indexOf(path);
    if (index >= 0) this.open.splice(index, 1);
    if (this.active === path) this.active = this.open[Math.min(index, this.open.length - 1)] ?? null;
    this.render();
    return this.active;
  }

  rename(from: string, to: string): void {
    const index = this.open.indexOf(from);
    if (index >= 0) this.open[index] = to;
    if (this.active === from) this.active = to;
    this.render();
  }

  /** Keeps only the tabs whose file still exists. */
  retain(exists: (path: string) => boolean): void {
    const kept = this.open.filter(exists);
    if (kept.length === this.open.length) return;
    this.open = kept;
    if (this.active !== null && !exists(this.active)) this.active = null;
    this.render();
  }

  private render(): void {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(this.open));
    } catch {
      // Private mode or a full quota: tabs are just not remembered.
    }
    const tabs = this.open.map((path) => {
      const tab = document.createElement("div");
      tab.className = "ide-tab";
      const select = document.createElement("button");
      select.type = "button";
      select.className = "ide-tab-name";
      select.dataset.path = path;
      select.setAttribute("role", "tab");
      select.setAttribute("aria-selected", String(path === this.active));
      select.title = path;
      select.textContent = basename(path);
      const close = document.createElement("button");
      close.type = "button";
      close.className = "ide-tab-close";
      close.dataset.path = path;
      close.dataset.role = "close";
      close.setAttribute("aria-label", `Close ${path}`);
      close.textContent = "×";
      tab.append(select, close);
      if (path === this.active) tab.classList.add("is-active");
      return tab;
    });
    this.strip.replaceChildren(...tabs);
  }
}
