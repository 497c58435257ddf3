// Tabbed panels (the bottom panel: terminal, output, tests; the side panel: instructions, chat,
// notes) and the splitters between panes. Sizes and collapsed panes are this browser's choice,
// kept in localStorage; they are set through the CSSOM (the CSP forbids style attributes).
import { Emitter } from "./events";

export interface PanelTab {
  id: string;
  label: string;
}

export interface TabbedPanelEvents {
  select: string;
  collapse: boolean;
}

let panelCount = 0;

export class TabbedPanel extends Emitter<TabbedPanelEvents> {
  readonly element: HTMLElement;
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private readonly bodies = new Map<string, HTMLElement>();
  private readonly badges = new Map<string, HTMLSpanElement>();
  private readonly collapseButton: HTMLButtonElement;
  selected: string;
  collapsed = false;

  constructor(
    parent: HTMLElement,
    readonly name: string,
    tabs: PanelTab[],
    private readonly collapseLabels: [string, string],
  ) {
    super();
    panelCount += 1;
    this.element = document.createElement("section");
    this.element.className = `ide-panel ide-panel-${name}`;
    const header = document.createElement("div");
    header.className = "ide-panel-tabs";
    header.setAttribute("role", "tablist");
    const bodies = document.createElement("div");
    bodies.className = "ide-panel-bodies";
    for (const tab of tabs) {
      const id = `ide-${name}-${tab.id}-${panelCount}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "ide-panel-tab";
      button.id = `${id}-tab`;
      button.dataset.tab = tab.id;
      button.setAttribute("role", "tab");
      button.setAttribute("aria-controls", id);
      button.textContent = tab.label;
      const badge = document.createElement("span");
      badge.className = "ide-badge";
      badge.hidden = true;
      button.append(badge);
      button.addEventListener("click", () => {
        if (this.collapsed) this.setCollapsed(false);
        this.select(tab.id);
      });
      const body = document.createElement("div");
      body.className = `ide-panel-body ide-panel-body-${tab.id}`;
      body.id = id;
      body.setAttribute("role", "tabpanel");
      body.setAttribute("aria-labelledby", button.id);
      header.append(button);
      bodies.append(body);
      this.buttons.set(tab.id, button);
      this.bodies.set(tab.id, body);
      this.badges.set(tab.id, badge);
    }
    const spacer = document.createElement("span");
    spacer.className = "ide-panel-spacer";
    this.collapseButton = document.createElement("button");
    this.collapseButton.type = "button";
    this.collapseButton.className = "ide-icon-button ide-collapse";
    this.collapseButton.addEventListener("click", () => this.setCollapsed(!this.collapsed));
    header.append(spacer, this.collapseButton);
    this.element.append(header, bodies);
    parent.append(this.element);
    this.selected = tabs[0]?.id ?? "";
    const saved = localStorage.getItem(`prequel.ide.${name}.tab`);
    this.select(saved && this.bodies.has(saved) ? saved : this.selected);
    this.setCollapsed(localStorage.getItem(`prequel.ide.${name}.collapsed`) === "1");
  }

  body(id: string): HTMLElement {
    const body = this.bodies.get(id);
    if (!body) throw new Error(`no tab ${id} in ${this.name}`);
    return body;
  }

  has(id: string): boolean {
    return this.bodies.has(id);
  }

  select(id: string): void {
    if (!this.bodies.has(id)) return;
    this.selected = id;
    for (const [tab, button] of this.buttons) {
      button.setAttribute("aria-selected", String(tab === id));
      button.tabIndex = tab === id ? 0 : -1;
      this.bodies.get(tab)!.hidden = tab !== id;
    }
    localStorage.setItem(`prequel.ide.${this.name}.tab`, id);
    this.emit("select", id);
  }

  setBadge(id: string, text: string, tone: "info" | "ok" | "bad" = "info"): void {
    const badge = this.badges.get(id);
    if (!badge) return;
    badge.textContent = text;
    badge.dataset.tone = tone;
    badge.hidden = text === "";
  }

  setCollapsed(collapsed: boolean): void {
    this.collapsed = collapsed;
    this.element.dataset.collapsed = String(collapsed);
    const [collapseLabel, expandLabel] = this.collapseLabels;
    this.collapseButton.textContent = collapsed ? "▴" : "▾";
    this.collapseButton.setAttribute("aria-label", collapsed ? expandLabel : collapseLabel);
    this.collapseButton.title = collapsed ? expandLabel : collapseLabel;
    this.collapseButton.setAttribute("aria-expanded", String(!collapsed));
    localStorage.setItem(`prequel.ide.${this.name}.collapsed`, collapsed ? "1" : "0");
    this.emit("collapse", collapsed);
  }
}

export interface SplitterOptions {
  /** The CSS variable on `host` that holds the size in px, e.g. "--ide-left". */
  variable: string;
  host: HTMLElement;
  orientation: "vertical" | "horizontal";
  /** +1 when dragging right/down grows the pane, -1 when it shrinks it. */
  direction: 1 | -1;
  initial: number;
  min: number;
  max: () => number;
  label: string;
}

/** A draggable (and keyboard-operable) separator that sets a pane's size. */
export function splitter(options: SplitterOptions): HTMLDivElement {
  const node = document.createElement("div");
  node.className = `ide-split ide-split-${options.orientation}`;
  node.tabIndex = 0;
  node.setAttribute("role", "separator");
  node.setAttribute("aria-label", options.label);
  node.setAttribute(
    "aria-orientation",
    options.orientation === "vertical" ? "vertical" : "horizontal",
  );
  const key = `prequel.ide.size${options.variable}`;
  const clamp = (value: number): number =>
    Math.round(Math.max(options.min, Math.min(options.max(), value)));
  let size = clamp(Number(localStorage.getItem(key)) || options.initial);
  const apply = (value: number, save: boolean): void => {
    size = clamp(value);
    options.host.style.setProperty(options.variable, `${size}px`);
    node.setAttribute("aria-valuenow", String(size));
    if (save) localStorage.setItem(key, String(size));
  };
  apply(size, false);

  node.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    node.setPointerCapture(event.pointerId);
    const start = options.orientation === "vertical" ? event.clientX : event.clientY;
    const startSize = size;
    document.body.classList.add("ide-resizing");
    const move = (moveEvent: PointerEvent): void => {
      const now = options.orientation === "vertical" ? moveEvent.clientX : moveEvent.clientY;
      apply(startSize + options.direction * (now - start), false);
    };
    const up = (): void => {
      node.removeEventListener("pointermove", move);
      node.removeEventListener("pointerup", up);
      node.removeEventListener("pointercancel", up);
      document.body.classList.remove("ide-resizing");
      apply(size, true);
    };
    node.addEventListener("pointermove", move);
    node.addEventListener("pointerup", up);
    node.addEventListener("pointercancel", up);
  });
  node.addEventListener("keydown", (event) => {
    const grow = options.orientation === "vertical" ? "ArrowRight" : "ArrowDown";
    const shrink = options.orientation === "vertical" ? "ArrowLeft" : "ArrowUp";
    if (event.key !== grow && event.key !== shrink) return;
    event.preventDefault();
    const step = (event.key === grow ? 1 : -1) * options.direction * 24;
    apply(size + step, true);
  });
  window.addEventListener("resize", () => apply(size, false));
  return node;
}
