//! [`Watch`]: a running `purser --json watch`, the principal's live event stream, read
//! line by line (`{"event": KIND, "data": …}`) on a thread so a test can wait for the
//! event it expects with a deadline. The process is killed when the [`Watch`] drops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::purser_command;

/// A `purser --json watch` process and the events it printed.
#[derive(Debug)]
pub struct Watch {
    child: Child,
    events: Receiver<Value>,
}

impl Watch {
    /// Starts `purser --json watch` on the daemon of `data_dir`.
    pub fn start(data_dir: &Path) -> Watch {
        let mut child = purser_command(data_dir)
            .args(["--json", "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn purser watch");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("watch printed no JSON ({error}): {line}"));
                if sender.send(event).is_err() {
                    return;
                }
            }
        });
        Watch { child, events }
    }

    /// The next event of `kind` whose JSON mentions `needle` (an id, an agent name),
    /// skipping others; panics after `timeout`.
    pub fn expect(&self, kind: &str, needle: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if event["event"] == kind && event.to_string().contains(needle) => {
                    return event;
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {kind} event about {needle} within {timeout:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("purser watch ended before a {kind} event about {needle}")
                }
            }
        }
    }

    /// Whether an event of `kind` mentioning `needle` arrives within `timeout`.
    pub fn saw(&self, kind: &str, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while let Ok(event) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if event["event"] == kind && event.to_string().contains(needle) {
                return true;
            }
        }
        false
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
