// End-to-end test of the demo through the gateway in headless Chromium (Debian's package,
// driven by playwright-core): two pages chat across both demo servers; the status page shows
// a chat server go down when it is stopped and come back up when it is started again.
// Run by run.sh, which builds the example and sets GANGWAY_DEMO and ARTIFACTS.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const demoBin = process.env.GANGWAY_DEMO;
const artifacts = process.env.ARTIFACTS ?? "target/browser-artifacts";
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Generous: a busy 2-core CI machine; health checks run every second, rise and fall 2.
const WAIT = 30_000;
assert.ok(demoBin, "GANGWAY_DEMO names the single_port example binary");
mkdirSync(artifacts, { recursive: true });

function log(...args) { console.log("[browser]", ...args); }

// Start the demo gateway on a free port; its first stdout line names the URL.
const demo = spawn(demoBin, ["127.0.0.1:0"], {
  stdio: ["pipe", "pipe", "inherit"],
  env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
});
const demoExited = once(demo, "exit");
let stdout = "";
const baseUrl = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no URL from the demo: ${stdout}`)), WAIT);
  demo.stdout.setEncoding("utf8");
  demo.stdout.on("data", (chunk) => {
    stdout += chunk;
    const m = stdout.match(/serves (http:\/\/[0-9.:]+)\//);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  demo.on("exit", (code) => reject(new Error(`demo exited (${code}): ${stdout}`)));
});
log("demo at", baseUrl);

/** Sends a control line to the demo and waits for its answer on stdout. */
async function control(command, answer) {
  const before = stdout.length;
  demo.stdin.write(command + "\n");
  const deadline = Date.now() + WAIT;
  while (!stdout.slice(before).includes(answer)) {
    assert.ok(Date.now() < deadline, `no "${answer}" after "${command}": ${stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const browser = await chromium.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const status = await context.newPage();
  await status.goto(baseUrl + "/status");
  const row = (server) => `tr[data-server="ws/${server}"]`;
  const stateIs = (server, state) =>
    status.waitForSelector(`${row(server)}[data-state="${state}"]`, { timeout: WAIT });
  const checked = (server, result) =>
    status.waitForSelector(`${row(server)} td.check span.${result}`, { timeout: WAIT });
  await status.waitForSelector("#live.on", { timeout: WAIT });
  await checked("chat1", "passed");
  await checked("chat2", "passed");
  log("status page live, both chat servers passed their checks");

  // Two chat pages: leastconn puts them on different servers (one tunnel each).
  const lines = (page) => page.$$eval("#output div", (ds) => ds.map((d) => d.textContent));
  const waitLine = (page, text) => page.waitForFunction(
    (t) => [...document.querySelectorAll("#output div")].some((d) => d.textContent === t),
    text, { timeout: WAIT });
  const tunnelsOn = (server) => status.$eval(`${row(server)} td:nth-child(7)`, (td) => td.textContent);
  const a = await context.newPage();
  await a.goto(baseUrl + "/");
  await waitLine(a, "Received: Client connected!");
  await status.waitForFunction(() => [...document.querySelectorAll('tr[data-server^="ws/"] td:nth-child(7)')]
    .reduce((n, td) => n + Number(td.textContent), 0) === 1, null, { timeout: WAIT });
  const b = await context.newPage();
  await b.goto(baseUrl + "/");
  await waitLine(b, "Received: Client connected!");
  await status.waitForFunction((rows) => rows.every((r) => document.querySelector(`${r} td:nth-child(7)`)?.textContent === "1"),
    [row("chat1"), row("chat2")], { timeout: WAIT });
  log("one tunnel on each chat server:", await tunnelsOn("chat1"), await tunnelsOn("chat2"));

  async function say(page, text) {
    await page.fill("#message", text);
    await page.click("#sendBtn");
  }
  await say(a, "hello from page A");
  await waitLine(a, "Received: hello from page A");
  await waitLine(b, "Received: hello from page A");
  await say(b, "hello from page B");
  await waitLine(a, "Received: hello from page B");
  await waitLine(b, "Received: hello from page B");
  log("messages from both pages reached both pages");
  await a.screenshot({ path: `${artifacts}/chat-page-a.png` });
  await b.screenshot({ path: `${artifacts}/chat-page-b.png` });
  await status.screenshot({ path: `${artifacts}/status-both-up.png`, fullPage: true });

  // Stop chat2: its checks fail, the status page shows it down; its client reconnects to chat1.
  await control("stop chat2", "chat2 stopped");
  await stateIs("chat2", "down");
  await checked("chat2", "failed");
  assert.equal(await status.getAttribute(row("chat1"), "data-state"), "up");
  log("chat2 down on the status page");
  await status.screenshot({ path: `${artifacts}/status-chat2-down.png`, fullPage: true });
  const onB = await lines(b);
  await waitLine(b, "(disconnected, reconnecting)").catch(() => {
    throw new Error(`page B was not on chat2? ${onB.join(" | ")}`);
  });
  await b.waitForFunction(() => {
    const ds = [...document.querySelectorAll("#output div")].map((d) => d.textContent);
    return ds.lastIndexOf("Received: Client connected!") > ds.lastIndexOf("(disconnected, reconnecting)");
  }, null, { timeout: WAIT });
  await say(b, "still here after chat2 stopped");
  await waitLine(a, "Received: still here after chat2 stopped");
  await waitLine(b, "Received: still here after chat2 stopped");
  log("page B reconnected through the gateway and still chats with page A");

  // Start it again: the checks bring it back up.
  await control("start chat2", "chat2 started");
  await stateIs("chat2", "up");
  await checked("chat2", "passed");
  log("chat2 up again on the status page");
  await status.screenshot({ path: `${artifacts}/status-chat2-up-again.png`, fullPage: true });
  await b.screenshot({ path: `${artifacts}/chat-page-b-after-restart.png` });
  await context.close();
} catch (e) {
  failed = true;
  console.error("[browser] FAILED:", e);
  for (const [i, p] of (browser.contexts()[0]?.pages() ?? []).entries()) {
    await p.screenshot({ path: `${artifacts}/failure-${i}.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}

// Ctrl-C: a graceful shutdown, with no page open, finishes well within the grace period.
demo.stdin.end();
demo.kill("SIGINT");
const timer = setTimeout(() => { log("demo did not exit after SIGINT"); demo.kill("SIGKILL"); }, WAIT);
const [code, signal] = await demoExited;
clearTimeout(timer);
if (code !== 0) { failed = true; console.error(`[browser] demo exited with ${code ?? signal}`); }
log(failed ? "FAILED" : "passed", "- screenshots in", artifacts);
process.exit(failed ? 1 : 0);
