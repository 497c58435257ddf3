// Runs every *.test.js in this folder in this one process. `node --test` would run each file
// in a child process and read the child's stdout as TAP, so code under test could print
// "ok 1 - ..." and pass; here results reach only the reporter's destination file.
const fs = require("node:fs");
const path = require("node:path");

for (const name of fs.readdirSync(__dirname).sort()) {
  if (name.endsWith(".test.js")) {
    require(path.join(__dirname, name));
  }
}
