//! Wake-ups over a local Unix socket: commands poke the town's daemon after they change
//! something, so it reacts at once instead of polling.
//!
//! The protocol is one short line per connection (`poke`, `stop`, …). A poke never blocks
//! and never fails its sender: no daemon, a stale socket or a full backlog all mean "nobody
//! to wake", which the daemon's slow safety tick covers.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon of the town at `town_root` listens: known here so that `bd`, which knows
/// nothing else of towns, pokes the same socket as `gt`.
pub fn town_socket(town_root: &Path) -> PathBuf {
    town_root.join("daemon").join("daemon.sock")
}

/// The longest line a message may be.
const MAX_MESSAGE: u64 = 256;

/// Sends `message` to the socket at `path`, if anything listens there. Never blocks for long.
pub fn send(path: &Path, message: &str) {
    // Cheaper than a failing connect, and the common case without a daemon.
    if !path.exists() {
        return;
    }
    if let Ok(mut stream) = UnixStream::connect(path) {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let _ = writeln!(stream, "{message}");
    }
}

/// Sends `message` and waits (up to `timeout`) for the listener's one-line answer.
pub fn request(path: &Path, message: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_read_timeout(Some(timeout))?;
    writeln!(stream, "{message}")?;
    let mut answer = String::new();
    BufReader::new(stream.take(4096)).read_line(&mut answer)?;
    Ok(answer.trim_end().to_owned())
}

/// A bound wake-up socket. The file is removed when it drops.
#[derive(Debug)]
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

/// One received message, and the way to answer it.
#[derive(Debug)]
pub struct Message {
    pub text: String,
    stream: UnixStream,
}

impl Message {
    /// Answers the sender with one line (ignored if it has gone).
    pub fn reply(mut self, answer: &str) {
        let _ = writeln!(self.stream, "{answer}");
    }
}

impl Listener {
    /// Binds `path`, replacing a socket file left by a dead listener. The caller must already
    /// hold the lock that makes it the only listener (the daemon's pid lock).
    pub fn bind(path: &Path) -> std::io::Result<Self> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Self {
            listener: UnixListener::bind(path)?,
            path: path.to_owned(),
        })
    }

    /// Waits for the next message. A sender that connects and says nothing within a second
    /// gets dropped, so one stuck client cannot stall the daemon.
    pub fn next(&self) -> std::io::Result<Message> {
        loop {
            let (stream, _) = self.listener.accept()?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            let mut text = String::new();
            let read = BufReader::new((&stream).take(MAX_MESSAGE)).read_line(&mut text);
            if read.is_ok() && !text.trim().is_empty() {
                return Ok(Message {
                    text: text.trim().to_owned(),
                    stream,
                });
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poke_reaches_the_listener_and_a_request_gets_its_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        // Nobody listening: a poke is a no-op, a request an error.
        send(&path, "poke");
        assert!(request(&path, "status", Duration::from_secs(1)).is_err());

        let listener = Listener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let first = listener.next().unwrap();
            assert_eq!(first.text, "poke");
            let second = listener.next().unwrap();
            assert_eq!(second.text, "status");
            second.reply("running");
            listener
        });
        send(&path, "poke");
        assert_eq!(
            request(&path, "status", Duration::from_secs(5)).unwrap(),
            "running"
        );
        drop(server.join().unwrap());
        assert!(!path.exists(), "the socket file goes with the listener");
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let _listener = Listener::bind(&path).unwrap();
        send(&path, "poke");
    }
}
