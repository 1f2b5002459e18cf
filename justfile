# Everyday recipes. `just` is optional: each recipe is one cargo command.
# Install it with `cargo install just`.

# List the recipes.
default:
    @just --list

# Run every test (the README's test command).
test:
    cargo test --release

# The end-to-end tests: the real OpenCode SDK and TUI (from npm) against the
# release binary, and the reference server side by side. Needs tmux and rg.
e2e:
    cargo build --release
    cd tests/e2e && npm install --no-audit --no-fund && (cd node_modules/opencode-ai && node postinstall.mjs) && npm test

# Serve the current folder.
serve *args:
    cargo run --release -- serve {{args}}

# The benchmarks: the sandbox (per-call latency, throughput, start-up),
# search against rg, and the server and the agent against the reference
# `opencode serve` (installed by `just e2e`), each with baselines measured in
# the same run.
bench:
    cargo bench

# List the tools, with their argument schemas.
tools:
    cargo run --release -- tool list

# Run one tool on the current folder: `just call read '{"filePath":"README.md"}'`.
call tool args="{}":
    cargo run --release -- tool call {{tool}} '{{args}}'

# Formatting, lints and the supply chain, as CI runs them (the guest tools
# are a workspace of their own; `cargo install cargo-deny` once).
lint:
    cargo fmt --all --check
    cd guest-tools && cargo fmt --all --check
    cargo clippy --release --all-targets -- -D warnings
    cd guest-tools && cargo clippy --release --all-targets -- -D warnings
    cargo deny check licenses bans sources
    cargo deny --manifest-path guest-tools/Cargo.toml --config deny.toml check licenses bans sources

# What CI runs, on this checkout.
ci:
    bash .ci/run
