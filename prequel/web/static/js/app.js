// Runs on every portal page: local times, copy buttons and countdowns.

import { startCountdowns } from "./lib/clock.js";
import { localizeTimes } from "./lib/time.js";
import { bindCopyButtons } from "./lib/ui.js";

localizeTimes();
bindCopyButtons();
startCountdowns();
