//! The tests' side of `casepol serve`: the server started as a child process on a free
//! loopback port (and stopped with SIGTERM), and a small HTTP/1.1 client over a plain
//! `TcpStream` that can also send what no well-behaved client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// What it wrote on standard error, line by line.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `casepol serve POLICY --entities ENTITIES --listen 127.0.0.1:0 ARGS…` with the
    /// environment variables `env` (and without CASEPOL_TOKEN unless given), and waits for the
    /// address it listens on.
    pub fn start(policy: &Path, entities: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_casepol"));
        cmd.arg("serve")
            .arg(policy)
            .arg("--entities")
            .arg(entities)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("CASEPOL_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the server starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("http://") {
                    let addr = line[at + 7..].split(' ').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().expect("an address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not say where it listens: {:?}",
                    lines.lock().unwrap()
                );
            }
        };
        Server {
            child,
            addr,
            stderr: lines,
        }
    }

    pub fn connect(&self) -> Conn {
        Conn::new(self.addr)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn stop(&mut self) -> ExitStatus {
        self.terminate();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A keep-alive connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn::try_new(addr).expect("the server accepts")
    }

    /// A connection, if the server accepts one.
    pub fn try_new(addr: SocketAddr) -> Option<Conn> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
        Some(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Sends raw bytes from another thread, ignoring errors: for a body the server may refuse,
    /// and close the connection on, before it was all sent, while this thread reads the answer.
    pub fn send_in_background(&mut self, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
        let mut stream = self
            .reader
            .get_ref()
            .try_clone()
            .expect("the socket clones");
        std::thread::spawn(move || {
            let _ = stream.write_all(&bytes);
        })
    }

    /// A request with a body (and its length), and its answer.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes)?;
        self.reply()
    }

    pub fn post(&mut self, path: &str, body: &str) -> Reply {
        self.request("POST", path, &[], body.as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Reads the status line and headers of an answer.
    pub fn head(&mut self) -> std::io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        Ok((status, headers))
    }

    /// Reads one whole answer.
    pub fn reply(&mut self) -> std::io::Result<Reply> {
        let (status, headers) = self.head()?;
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(n) = find("content-length") {
            let n: usize = n.parse().map_err(std::io::Error::other)?;
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        } else if find("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            while let Some(chunk) = self.chunk()? {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// The next chunk of a chunked body; `None` after the last.
    pub fn chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut size = String::new();
        self.reader.read_line(&mut size)?;
        let n = usize::from_str_radix(size.trim(), 16)
            .map_err(|e| std::io::Error::other(format!("bad chunk size {size:?}: {e}")))?;
        let mut chunk = vec![0; n];
        self.reader.read_exact(&mut chunk)?;
        let mut end = [0u8; 2];
        self.reader.read_exact(&mut end)?;
        Ok((n > 0).then_some(chunk))
    }

    /// Opens the event stream: the status and headers are read, the events follow.
    pub fn events(&mut self) -> u16 {
        self.send(b"GET /v1/events HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .expect("the request is sent");
        self.head().expect("the answer starts").0
    }

    /// The next server-sent event, as (event, id, data), skipping comments; `None` when the
    /// stream ends.
    pub fn next_event(&mut self, pending: &mut String) -> Option<(String, Option<u64>, String)> {
        loop {
            if let Some(at) = pending.find("\n\n") {
                let frame: String = pending.drain(..at + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = v.to_string();
                    }
                }
                if event.is_empty() {
                    continue;
                }
                return Some((event, id, data));
            }
            match self.chunk() {
                Ok(Some(c)) => pending.push_str(&String::from_utf8_lossy(&c)),
                _ => return None,
            }
        }
    }

    /// Reads with a shorter timeout from now on.
    pub fn set_timeout(&mut self, t: Duration) {
        self.reader.get_ref().set_read_timeout(Some(t)).ok();
    }
}
