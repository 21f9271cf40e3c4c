//! The agent on a terminal, imitating a TUI agent as far as delivery cares: keys are echoed
//! into an input line after `❯ `, a bracketed paste is one input (newlines included), Enter
//! submits, and a prompt submitted while a turn runs waits for its end (shown as `(queued) …`). Each turn shows the busy
//! line; its end runs the `Stop` hooks, which may hand it the next prompt.

use std::io::Read as _;
use std::sync::mpsc;
use std::time::Duration;

use ui::text::safe;

use crate::claude_hooks::Hooks;
use crate::out;

/// Environment: milliseconds each turn for a received prompt takes (default 0).
pub const TURN_MS: &str = "GT_SCRIPTED_AGENT_TURN_MS";

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// Reads keys from stdin on a thread of its own; submitted prompts go to the returned channel.
pub fn read_keys() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut keys = Keys::default();
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Keys are taken even by a hung agent (`hang`): its turn never ends, so what is
            // submitted waits for ever, as a prompt typed at a stuck TUI agent does.
            for submitted in keys.feed(&buf[..n]) {
                if out::is_busy() {
                    // Shown above the input line, as Claude shows a queued message.
                    let first = submitted.lines().next().unwrap_or("");
                    out::line(&format!("(queued) {}", safe(first)));
                }
                if tx.send(submitted).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Turns key bytes into edits of the input line and submitted prompts.
#[derive(Debug, Default)]
struct Keys {
    /// Bytes not yet understood (a partial escape sequence or UTF-8 character).
    pending: Vec<u8>,
    /// Inside a bracketed paste: its text so far.
    paste: Option<Vec<u8>>,
}

impl Keys {
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut submitted = Vec::new();
        loop {
            let consumed = self.step(&mut submitted);
            if consumed == 0 {
                break;
            }
            self.pending.drain(..consumed);
        }
        submitted
    }

    /// Handles one unit at the start of `pending`; how many bytes it took (0: need more).
    fn step(&mut self, submitted: &mut Vec<String>) -> usize {
        let buf = &self.pending;
        if buf.is_empty() {
            return 0;
        }
        if let Some(paste) = &mut self.paste {
            return match find(buf, PASTE_END) {
                Some(at) => {
                    paste.extend_from_slice(&buf[..at]);
                    let text = String::from_utf8_lossy(paste)
                        .replace("\r\n", "\n")
                        .replace('\r', "\n");
                    self.paste = None;
                    out::edit_input(|input| input.push_str(&text));
                    at + PASTE_END.len()
                }
                // Keep a tail that may be the start of the end marker.
                None => {
                    let keep = PASTE_END.len() - 1;
                    let take = buf.len().saturating_sub(keep);
                    paste.extend_from_slice(&buf[..take]);
                    take
                }
            };
        }
        match buf[0] {
            0x1b => {
                if buf.starts_with(PASTE_START) {
                    self.paste = Some(Vec::new());
                    return PASTE_START.len();
                }
                if PASTE_START.starts_with(buf) {
                    return 0;
                }
                escape_len(buf)
            }
            b'\r' | b'\n' => {
                let text = out::edit_input(std::mem::take).unwrap_or_default();
                if !text.trim().is_empty() {
                    submitted.push(text);
                }
                1
            }
            0x7f | 0x08 => {
                out::edit_input(|input| input.pop());
                1
            }
            b if b < 0x20 => 1,
            _ => {
                let width = utf8_width(buf[0]);
                if buf.len() < width {
                    return 0;
                }
                let text = String::from_utf8_lossy(&buf[..width]).into_owned();
                out::edit_input(|input| input.push_str(&text));
                width
            }
        }
    }
}

/// The length of the escape sequence at the start of `buf` (ignored keys: arrows and such);
/// 0 when it is not complete yet.
fn escape_len(buf: &[u8]) -> usize {
    match buf.get(1) {
        None => 0,
        Some(b'[') => buf[2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(0, |i| i + 3),
        Some(_) => 2,
    }
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// After the first turn (the script): each turn's end runs the `Stop` hooks; a block is the
/// next prompt, else the next submitted one, else the agent idles until one comes.
pub fn turns(hooks: &Hooks, prompts: &mpsc::Receiver<String>) -> ! {
    let mut from_stop = false;
    loop {
        let next = match hooks.stop(from_stop) {
            Some(reason) => {
                from_stop = true;
                reason
            }
            None => {
                from_stop = false;
                match prompts.try_recv() {
                    Ok(prompt) => prompt,
                    Err(_) => {
                        out::set_busy(false);
                        match prompts.recv() {
                            Ok(prompt) => prompt,
                            Err(_) => crate::idle_forever(),
                        }
                    }
                }
            }
        };
        turn(hooks, &next);
    }
}

/// One turn for `prompt`: context from `UserPromptSubmit` hooks, the prompt shown whole (its
/// first line as `received: …`, each further line indented), then the turn's work.
fn turn(hooks: &Hooks, prompt: &str) {
    out::set_busy(true);
    hooks.context("UserPromptSubmit", serde_json::json!({ "prompt": prompt }));
    received(prompt);
    crate::on_prompt(prompt);
    let ms = host::env::var(TURN_MS)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
}

/// Shows a received prompt: `received: <first line>`, then each further line indented.
pub fn received(prompt: &str) {
    let mut lines = prompt.split('\n');
    out::line(&format!("received: {}", safe(lines.next().unwrap_or(""))));
    for line in lines {
        out::line(&format!("  {}", safe(line)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bracketed_paste_is_one_input_and_enter_submits_it() {
        let mut keys = Keys::default();
        assert!(keys.feed(b"\x1b[200~one\rtwo\r").is_empty());
        assert!(keys.feed(b"three\x1b[20").is_empty());
        assert!(keys.feed(b"1~").is_empty());
        assert_eq!(keys.feed(b"\r"), ["one\ntwo\nthree"]);
        assert_eq!(keys.feed("ab\x7fc é\x1b[A\r".as_bytes()), ["ac é"]);
        assert!(keys.feed(b"\r\r").is_empty(), "empty input submits nothing");
    }
}
