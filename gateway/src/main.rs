//! The `wasmgate` binary: parses the command line, runs it, sets the exit
//! code; or, started as the jail helper, enters a jail (see `jail`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // The jail helper runs before anything else: it needs a process with
    // one thread, and none of the server.
    if let Some(status) = wasmgate::jail::enter::helper_main() {
        return status;
    }
    wasmgate::memory::configure();
    wasmgate::cli::main()
}
