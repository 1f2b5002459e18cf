// Starts the real servers and clients the end-to-end tests drive: the
// wasmgate binary of this checkout, the reference `opencode serve`, and the
// `opencode` TUI under tmux. Everything runs on loopback, in scratch folders,
// with OpenCode kept off the network and off the user's own config.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

process.setMaxListeners(100);

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../../..");
export const wasmgateBin = process.env.WASMGATE_BIN ?? join(root, "target/release/wasmgate");
export const opencodeBin = join(here, "../node_modules/opencode-linux-x64/bin/opencode");

/** A scratch folder removed when the process exits. */
export function scratch(name) {
  const dir = mkdtempSync(join(tmpdir(), `wasmgate-e2e-${name}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A small project: a README, a source folder, a binary file. */
export function fixture() {
  const dir = scratch("project");
  writeFileSync(join(dir, "README.md"), "hello world\nsecond line\n");
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src/main.rs"), 'fn main() {\n    println!("hello");\n}\n');
  writeFileSync(join(dir, "bin.dat"), Buffer.from([0, 1, 2, 3, 255, 0]));
  return dir;
}

/**
 * A config whose provider is the scripted model at `modelUrl` (see
 * model.mjs); `extra` keys are merged in.
 */
export function config(modelUrl = "http://127.0.0.1:9/v1", extra = {}) {
  return {
    $schema: "https://opencode.ai/config.json",
    model: "mock/m1",
    small_model: "mock/m1",
    share: "disabled",
    autoupdate: false,
    disabled_providers: ["opencode"],
    provider: {
      mock: {
        name: "Mock",
        npm: "@ai-sdk/openai-compatible",
        options: { apiKey: "sk-scripted", baseURL: modelUrl },
        models: { m1: { name: "Mock 1", tool_call: true, limit: { context: 100000, output: 4000 } } },
      },
    },
    command: { hello: { template: "Say hello to $ARGUMENTS", description: "greet someone" } },
    ...extra,
  };
}

/** The environment that keeps the real OpenCode offline and isolated. */
export function opencodeEnv(home, settings = config()) {
  const env = { ...process.env };
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".data"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".state"),
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_SHARE: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
    OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
    OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
    OPENCODE_DISABLE_CLAUDE_CODE: "1",
    OPENCODE_PURE: "1",
    OPENCODE_DISABLE_TERMINAL_TITLE: "1",
  });
  delete env.OPENCODE_DISABLE_EMBEDDED_WEB_UI;
  mkdirSync(join(home, ".config/opencode"), { recursive: true });
  writeFileSync(join(home, ".config/opencode/opencode.json"), JSON.stringify(settings));
  return env;
}

/** Runs `command` until it prints `marker ... http://HOST:PORT`; resolves to the URL. */
function startServer(command, args, { cwd, env, marker }) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(new RegExp(`${marker} on (http://[^\\s]+)`));
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}:\n${output}`)));
  });
  process.on("exit", () => child.kill("SIGKILL"));
  return { child, url, output: () => output };
}

/**
 * Starts wasmgate serving `dir` on a free port, with `settings` as its config
 * file and its own data folder. Resolves to `{url, child, dataDir, stop}`.
 */
export async function startWasmgate(dir, { env = {}, dataDir = scratch("data"), settings = config() } = {}) {
  if (!existsSync(wasmgateBin)) throw new Error(`${wasmgateBin} is missing: run cargo build --release first`);
  const configFile = join(scratch("config"), "wasmgate.json");
  writeFileSync(configFile, JSON.stringify(settings));
  const server = startServer(
    wasmgateBin,
    ["serve", dir, "--port", "0", "--config", configFile, "--data-dir", dataDir],
    { cwd: dir, env: { ...process.env, ...env }, marker: "wasmgate listening" },
  );
  const url = await server.url;
  return { url, child: server.child, dataDir, stop: () => stop(server.child) };
}

/** Starts the reference `opencode serve` in `dir`, with `settings` as its config. */
export async function startReference(dir, settings = config()) {
  const env = opencodeEnv(scratch("home"), settings);
  const server = startServer(opencodeBin, ["serve", "--hostname", "127.0.0.1", "--port", "0"], {
    cwd: dir,
    env,
    marker: "opencode server listening",
  });
  const url = await server.url;
  return { url, child: server.child, stop: () => stop(server.child) };
}

function stop(child) {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once("exit", done);
    child.kill("SIGTERM");
    // A server still running 10 s after SIGTERM is killed, so a suite's
    // `after` never waits on it for ever.
    setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 10_000).unref();
  });
}

/** Whether a program is on PATH. */
export function have(program) {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually(check, ms = 20_000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}
