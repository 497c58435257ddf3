// The IDE page's entry point: reads #ide-config and mounts the IDE into #ide.
import "@xterm/xterm/css/xterm.css";
import "./ide.css";

import { readConfig } from "./config";
import { installCspStyleShim } from "./csp-styles";
import { Ide } from "./ide";

export function mount(root: HTMLElement): Ide {
  installCspStyleShim();
  return new Ide(root, readConfig());
}

const root = document.getElementById("ide");
if (root) {
  try {
    // Reachable from the console and from browser tests (read-only questions only).
    (window as unknown as { prequelIde: Ide }).prequelIde = mount(root);
  } catch (error) {
    console.error(error);
    const message = document.createElement("p");
    message.className = "ide-fatal";
    message.setAttribute("role", "alert");
    message.textContent = `The editor could not start: ${String(error)}. Reload the page to try again.`;
    root.replaceChildren(message);
  }
}
