//! The `wasmgate` binary: parses the command line, runs it, sets the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    wasmgate::memory::configure();
    wasmgate::cli::main()
}
