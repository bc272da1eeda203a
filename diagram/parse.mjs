// Check Mermaid diagrams with Mermaid's own parser: `node diagram/parse.mjs FILE...`.
//
// A FILE ending in .md is checked block by block (every ```mermaid fence); any other FILE is one
// diagram. All files are parsed in this one process, so a test pays Node's start-up once.
// Prints `ok FILE#N` per good diagram and `FILE#N (line L): <parser's message>` per bad one.
//
// Exit codes: 0 every diagram parsed; 1 at least one did not; 2 no FILE given, a FILE cannot be
// read, or a markdown FILE holds no mermaid block.
//
// Mermaid's parse() runs DOMPurify over labels, and DOMPurify needs a window: jsdom supplies one,
// and it must exist before mermaid is imported (DOMPurify looks for it once, at import).
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

function diagramsIn(file, text) {
  if (!file.endsWith(".md")) return [{ line: 1, source: text }];
  const found = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```mermaid") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== "```") end++;
    found.push({ line: start + 1, source: lines.slice(start, end).join("\n") + "\n" });
    i = end;
  }
  return found;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node diagram/parse.mjs FILE...");
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    console.error(`error: cannot read ${file}: ${error.message}`);
    process.exit(2);
  }
  const diagrams = diagramsIn(file, text);
  if (diagrams.length === 0) {
    console.error(`error: ${file} holds no \`\`\`mermaid block`);
    process.exit(2);
  }
  for (const [index, { line, source }] of diagrams.entries()) {
    const where = `${file}#${index + 1}`;
    try {
      // Throws with the parser's message on a syntax error (returns false only when asked to).
      if ((await mermaid.parse(source)) === false) throw new Error("not a Mermaid diagram");
      console.log(`ok ${where}`);
    } catch (error) {
      failed++;
      const message = String(error?.message ?? error).trim();
      console.log(`${where} (line ${line}): ${message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
