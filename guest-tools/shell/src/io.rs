//! Where a command's input comes from and its output goes.
//!
//! Each command sees its standard input as bytes and writes its output and
//! errors through shared writers, so redirects are just other writers:
//! `2>&1` shares one, `> file` swaps in a file, `2>/dev/null` a sink. A
//! pipeline's stages run one after another, each stage's output buffered as
//! the next one's input: nothing runs concurrently in the sandbox, and a
//! stage's output is bounded by the memory cap.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// A shared output stream.
pub type Writer = Rc<RefCell<dyn Write>>;

/// The standard streams of one command.
#[derive(Clone)]
pub struct Io {
    pub stdin: Rc<Input>,
    pub out: Writer,
    pub err: Writer,
}

/// A command's input: bytes, of which `read` takes a line at a time, so
/// that `while read line; do ...; done < file` goes through the file; the
/// commands in the loop see (and take) what is left.
#[derive(Default)]
pub struct Input {
    bytes: Vec<u8>,
    taken: std::cell::Cell<usize>,
}

impl Input {
    /// The next line, without its newline; `None` at the end. The bool
    /// says whether the line ended with a newline.
    pub fn line(&self) -> Option<(String, bool)> {
        let rest = &self.bytes[self.taken.get()..];
        if rest.is_empty() {
            return None;
        }
        let (line, ended) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], true),
            None => (rest, false),
        };
        self.taken.set(self.taken.get() + line.len() + usize::from(ended));
        Some((String::from_utf8_lossy(line).into_owned(), ended))
    }

    /// Everything not taken yet, now taken.
    pub fn rest(&self) -> Vec<u8> {
        let rest = self.bytes[self.taken.get()..].to_vec();
        self.taken.set(self.bytes.len());
        rest
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];

    /// What is not taken yet.
    fn deref(&self) -> &[u8] {
        &self.bytes[self.taken.get()..]
    }
}

impl Io {
    /// The same streams with `stdin` as input.
    pub fn with_stdin(&self, stdin: Vec<u8>) -> Io {
        Io { stdin: Rc::new(Input { bytes: stdin, taken: Default::default() }), ..self.clone() }
    }

    /// The same streams with output to `out`.
    pub fn with_out(&self, out: Writer) -> Io {
        Io { out, ..self.clone() }
    }
}

/// Writes to a command's output, ignoring failures (a closed pipe).
macro_rules! out {
    ($io:expr, $($arg:tt)*) => {{
        let _ = write!($io.out.borrow_mut(), $($arg)*);
    }};
}

/// Writes to a command's error stream.
macro_rules! err {
    ($io:expr, $($arg:tt)*) => {{
        let _ = write!($io.err.borrow_mut(), $($arg)*);
    }};
}

pub(crate) use {err, out};

/// A writer that collects bytes.
pub fn buffer() -> (Rc<RefCell<Vec<u8>>>, Writer) {
    let buf = Rc::new(RefCell::new(Vec::new()));
    let writer: Writer = buf.clone();
    (buf, writer)
}

/// A redirected file, shared by its writer and the shell that asks it.
pub type Redirected = Rc<RefCell<FileOut>>;

/// A file a command's output was redirected to (`> file`). Commands write
/// through [`out!`], which ignores failures; the file keeps the first one,
/// so the shell can say so after the command, as bash does.
pub struct FileOut {
    file: std::fs::File,
    failed: Option<std::io::ErrorKind>,
}

impl FileOut {
    /// A writer onto `file`, and the file to ask afterwards.
    pub fn open(file: std::fs::File) -> (Redirected, Writer) {
        let out = Rc::new(RefCell::new(FileOut { file, failed: None }));
        let writer: Writer = out.clone();
        (out, writer)
    }

    /// The first write that failed, once.
    pub fn failure(&mut self) -> Option<std::io::Error> {
        self.failed.take().map(std::io::Error::from)
    }
}

impl Write for FileOut {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.file.write(bytes).inspect_err(|e| {
            self.failed.get_or_insert(e.kind());
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A writer that discards everything (`/dev/null`).
pub fn null() -> Writer {
    Rc::new(RefCell::new(std::io::sink()))
}

/// What the terminal shows: streamed to the host as it is written, and kept
/// (up to a cap) as the tool's result.
#[derive(Clone)]
pub struct Terminal(Rc<RefCell<Screen>>);

struct Screen {
    kept: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Terminal {
    pub fn new(cap: usize) -> Self {
        Terminal(Rc::new(RefCell::new(Screen { kept: Vec::new(), cap, truncated: false })))
    }

    /// A writer onto the terminal.
    pub fn writer(&self) -> Writer {
        Rc::new(RefCell::new(self.clone()))
    }

    /// What the terminal kept, and whether it had to cut.
    pub fn finish(&self) -> (String, bool) {
        let screen = self.0.borrow();
        let mut text = String::from_utf8_lossy(&screen.kept).into_owned();
        if screen.truncated {
            text.push_str("\n\n(output truncated)");
        }
        (text, screen.truncated)
    }
}

impl Write for Terminal {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        wasmgate_tool_sdk::wasmgate::tools::host::emit_output(&String::from_utf8_lossy(bytes));
        let mut screen = self.0.borrow_mut();
        let room = screen.cap.saturating_sub(screen.kept.len());
        if bytes.len() > room {
            screen.truncated = true;
        }
        screen.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
