//! JSON-RPC over standard input and output, each message bounded before it is read.
//!
//! lsp-server's own stdio transport reads a message of any declared length and ends on the
//! first malformed one; this one refuses a message over [`MAX_LSP_MESSAGE_BYTES`] (its body is
//! skipped, never kept) and skips a message that is not JSON-RPC, telling the client in a log
//! message. It feeds one end of an in-memory `Connection`; the server holds the other.

use casepol::limits::MAX_LSP_MESSAGE_BYTES;
use lsp_server::{Connection, Message, Notification};
use std::io::{self, BufRead, Read, Write};
use std::thread::JoinHandle;

/// The longest header line read; real headers are a few dozen bytes.
const MAX_HEADER_LINE: usize = 1024;
/// The most header lines of one message.
const MAX_HEADERS: usize = 16;

/// Starts the threads that move messages between stdio and the returned connection. The
/// writer thread ends once every sender of the connection is dropped; join it to flush.
pub(crate) fn stdio() -> (Connection, JoinHandle<()>) {
    let (server, client) = Connection::memory();
    let Connection { sender, receiver } = client;
    let writer = std::thread::spawn(move || {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        for msg in receiver {
            if msg.write(&mut out).is_err() {
                break;
            }
        }
        let _ = out.flush();
    });
    let to_client = server.sender.clone();
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        loop {
            match read_message(&mut input) {
                Ok(Some(Ok(msg))) => {
                    let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
                    if sender.send(msg).is_err() || exit {
                        break;
                    }
                }
                Ok(Some(Err(why))) => {
                    let _ = to_client.send(log(&why));
                }
                Ok(None) | Err(_) => break,
            }
        }
    });
    (server, writer)
}

/// A `window/logMessage` of type error.
fn log(message: &str) -> Message {
    Message::Notification(Notification::new(
        "window/logMessage".into(),
        serde_json::json!({ "type": 1, "message": message }),
    ))
}

/// Reads one message: `None` at the end of the input, `Some(Err(why))` for a message that was
/// skipped (too long, or not JSON-RPC), an I/O error if the stream is broken (a header line
/// too long, or the input ends inside a message).
pub(crate) fn read_message(
    input: &mut impl BufRead,
) -> io::Result<Option<Result<Message, String>>> {
    let mut length: Option<usize> = None;
    let mut lines = 0usize;
    loop {
        let mut line = Vec::new();
        let n = input
            .by_ref()
            .take(MAX_HEADER_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return if lines == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if line.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "header line too long",
            ));
        }
        lines += 1;
        if lines > MAX_HEADERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "too many headers",
            ));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    let Some(length) = length else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no Content-Length header",
        ));
    };
    if length > MAX_LSP_MESSAGE_BYTES {
        let skipped = io::copy(&mut input.by_ref().take(length as u64), &mut io::sink())?;
        if skipped < length as u64 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        return Ok(Some(Err(format!(
            "casepol lsp: a message of {length} bytes was skipped: the limit is {} \
             (a policy file may hold at most {})",
            casepol::limits::bytes(MAX_LSP_MESSAGE_BYTES),
            casepol::limits::bytes(casepol::limits::MAX_POLICY_FILE_BYTES)
        ))));
    }
    let mut body = vec![0u8; length];
    input.read_exact(&mut body)?;
    Ok(Some(serde_json::from_slice::<Message>(&body).map_err(
        |e| format!("casepol lsp: a message that is not JSON-RPC was skipped: {e}"),
    )))
}
