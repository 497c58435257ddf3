// The server's clock, as told by the SSE stream: countdowns follow it, so a client whose
// clock is wrong still shows the right time left.

let offsetMs = 0;

export function syncServerTime(serverTimeIso) {
  const server = Date.parse(serverTimeIso);
  if (!Number.isNaN(server)) offsetMs = server - Date.now();
}

export function serverNow() {
  return Date.now() + offsetMs;
}

export function formatRemaining(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${minutes}:${pad(seconds)}`;
}

export function spokenRemaining(ms) {
  const minutes = Math.max(0, Math.round(ms / 60000));
  if (minutes >= 120) return `about ${Math.round(minutes / 60)} hours left`;
  return `${minutes} minute${minutes === 1 ? "" : "s"} left`;
}

// Every [data-countdown="ISO deadline"] element shows the time left, once a second.
// data-countdown-done="text" replaces it at zero; under 5 minutes it gets .is-urgent.
export function tickCountdowns(root = document) {
  for (const el of root.querySelectorAll("[data-countdown]")) {
    const deadline = Date.parse(el.dataset.countdown);
    if (Number.isNaN(deadline)) continue;
    const left = deadline - serverNow();
    el.textContent = left > 0 ? formatRemaining(left) : el.dataset.countdownDone || "0:00";
    el.classList.toggle("is-urgent", left > 0 && left < 5 * 60 * 1000);
    el.classList.toggle("is-over", left <= 0);
    el.setAttribute("aria-label", left > 0 ? spokenRemaining(left) : el.textContent);
  }
}

let ticking = null;

export function startCountdowns() {
  tickCountdowns();
  if (ticking === null) ticking = setInterval(() => tickCountdowns(), 1000);
}
