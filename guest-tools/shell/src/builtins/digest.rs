//! `base64`, `sha256sum`, `sha1sum` and `md5sum`, by RustCrypto's digests
//! and the base64 crate, printed as coreutils prints them.

use super::{inputs, usage};
use crate::interp::Shell;
use crate::io::{Io, err, out};
use base64::Engine as _;

/// `base64 [-d] [-i] [-w COLS] [FILE]`.
pub fn base64(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    let (mut decode, mut ignore_garbage, mut wrap, mut files) = (false, false, 76usize, Vec::new());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-d" | "--decode" => decode = true,
            "-i" | "--ignore-garbage" => ignore_garbage = true,
            "-w" => match rest.next().and_then(|n| n.parse().ok()) {
                Some(columns) => wrap = columns,
                None => return usage(io, "base64", "invalid wrap size", 1),
            },
            flag if flag.starts_with("-w") => match flag[2..].parse() {
                Ok(columns) => wrap = columns,
                Err(_) => return usage(io, "base64", &format!("invalid wrap size: '{}'", &flag[2..]), 1),
            },
            flag if flag.starts_with('-') && flag != "-" => {
                return usage(io, "base64", &format!("invalid option -- '{}'", &flag[1..]), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    let (inputs, status) = inputs(shell, "base64", &files, io);
    if status != 0 {
        return 1;
    }
    let bytes: Vec<u8> = inputs.into_iter().flat_map(|(_, bytes)| bytes).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    if decode {
        let text: Vec<u8> = bytes
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .filter(|b| !ignore_garbage || b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .collect();
        return match engine.decode(&text) {
            Ok(decoded) => {
                let _ = io.out.borrow_mut().write_all(&decoded);
                0
            }
            Err(_) => {
                err!(io, "base64: invalid input\n");
                1
            }
        };
    }
    let encoded = engine.encode(&bytes);
    if wrap == 0 {
        out!(io, "{encoded}\n");
    } else {
        for line in encoded.as_bytes().chunks(wrap) {
            out!(io, "{}\n", String::from_utf8_lossy(line));
        }
    }
    0
}

pub fn sha256sum(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    sum::<sha2::Sha256>(shell, "sha256sum", args, io)
}

pub fn sha1sum(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    sum::<sha1::Sha1>(shell, "sha1sum", args, io)
}

pub fn md5sum(shell: &mut Shell, args: &[String], io: &Io) -> i32 {
    sum::<md5::Md5>(shell, "md5sum", args, io)
}

/// `NAMEsum [FILE...]`: the digest of each file (`-` or none: stdin), as
/// `HEX  NAME`.
fn sum<D: sha2::Digest>(shell: &mut Shell, name: &str, args: &[String], io: &Io) -> i32 {
    let mut files = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-b" | "-t" | "--binary" | "--text" => {}
            flag if flag.starts_with('-') && flag != "-" => {
                return usage(io, name, &format!("unrecognized option '{flag}'"), 1);
            }
            file => files.push(file.to_string()),
        }
    }
    let (inputs, status) = inputs(shell, name, &files, io);
    for (file, bytes) in inputs {
        let digest = D::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        out!(io, "{hex}  {file}\n");
    }
    status
}
