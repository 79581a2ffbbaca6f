//! The real desktop app (`purser-desktop`) under W3C WebDriver, for the end-to-end tests
//! of `tests/desktop_e2e.rs`: an X display (the session's `DISPLAY`, or a private `Xvfb`),
//! `tauri-driver` (which runs `WebKitWebDriver`, which runs the app) on ports of its own,
//! one WebDriver session on the app with a temporary data dir, and a tiny W3C WebDriver
//! client ([`Session`]) over plain TCP (one request per connection, read by its length:
//! see `exchange` for why not the harness's `Connection: close` client).
//!
//! It owns finding the tools ([`Tools`], with the CI gate of [`tools_or_skip`]), the whole
//! process tree's life (a shell watchdog stops everything if the test process dies; drop
//! ends the session, quits the app with SIGTERM, stops `tauri-driver` with SIGTERM and
//! kills whatever is left of the tree), and measuring it ([`DesktopApp::memory`]). The
//! agent's side stays `agent.rs`'s, the principal's CLI `daemon.rs`'s.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: a failed step is a failed test, with its message"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::agent::Agent;
use crate::binary::{target_dir, workspace_root};
use crate::daemon::{path_str, purser_command, signal, wait_with_timeout};
use crate::http::dechunk;

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long the app may take from "new session" to a console that shows the daemon's state.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(90);
/// The Xvfb screen: larger than the 1280×800 window, so nothing is cut off.
const SCREEN: &str = "1440x900x24";

/// Whether this runs in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| ci_flag(&value))
}

fn ci_flag(value: &str) -> bool {
    !matches!(value.trim(), "" | "0" | "false")
}

/// The programs the end-to-end tests drive.
#[derive(Debug, Clone)]
pub struct Tools {
    pub tauri_driver: PathBuf,
    pub webkit_driver: PathBuf,
    /// The built app, `target/debug/purser-desktop` (or `PURSER_DESKTOP_BIN`).
    pub app: PathBuf,
    /// `Xvfb`, when `DISPLAY` is unset.
    pub xvfb: Option<PathBuf>,
}

impl Tools {
    /// Every tool, or what is missing and how to get it.
    pub fn find() -> Result<Tools, Vec<String>> {
        let mut missing = Vec::new();
        let tauri_driver = env_file("TAURI_DRIVER")
            .or_else(|| on_path("tauri-driver"))
            .or_else(|| cargo_bin("tauri-driver"));
        if tauri_driver.is_none() {
            missing.push(
                "tauri-driver (not on PATH nor in ~/.cargo/bin): cargo install tauri-driver --locked"
                    .to_owned(),
            );
        }
        let webkit_driver = env_file("WEBKIT_WEBDRIVER").or_else(|| on_path("WebKitWebDriver"));
        if webkit_driver.is_none() {
            missing.push(
                "WebKitWebDriver (not on PATH): apt-get install webkit2gtk-driver".to_owned(),
            );
        }
        let app = match std::env::var_os("PURSER_DESKTOP_BIN") {
            Some(path) => PathBuf::from(path),
            None => target_dir().join("debug").join("purser-desktop"),
        };
        if !app.is_file() {
            missing.push(format!(
                "the app binary {} (build it: cd ui && npm ci && npm run build; cargo build -p purser-desktop)",
                app.display()
            ));
        }
        let xvfb = if display_from_env().is_some() {
            None
        } else {
            let found = on_path("Xvfb");
            if found.is_none() {
                missing.push(
                    "Xvfb (DISPLAY is unset and Xvfb is not on PATH): apt-get install xvfb"
                        .to_owned(),
                );
            }
            found
        };
        match (tauri_driver, webkit_driver, missing.is_empty()) {
            (Some(tauri_driver), Some(webkit_driver), true) => Ok(Tools {
                tauri_driver,
                webkit_driver,
                app,
                xvfb,
            }),
            _ => Err(missing),
        }
    }

    /// Source files newer than the app binary: it may not be what the tree builds.
    pub fn stale_sources(&self) -> Vec<PathBuf> {
        let Some(built) = modified(&self.app) else {
            return Vec::new();
        };
        let root = workspace_root();
        let mut newer = Vec::new();
        // The shell, the crates it embeds, and the UI it embeds.
        for dir in [
            "src-tauri/src",
            "src-tauri/crates/purser-core",
            "src-tauri/crates/purser-store",
            "src-tauri/crates/purser-daemon",
            "ui/dist",
        ] {
            collect_newer(&root.join(dir), built, &mut newer);
        }
        newer
    }
}

/// The tools, or (no tool, no test): a failure in CI, a loud skip elsewhere.
pub fn tools_or_skip(test: &str) -> Option<Tools> {
    match Tools::find() {
        Ok(tools) => {
            let stale = tools.stale_sources();
            if !stale.is_empty() {
                loud(&format!(
                    "WARNING: {} is older than {} source file(s) (e.g. {}): the E2E test drives the binary as built; \
                     run `cargo build -p purser-desktop` (after `npm run build` in ui/) to test the current tree",
                    tools.app.display(),
                    stale.len(),
                    stale[0].display()
                ));
            }
            Some(tools)
        }
        Err(missing) => {
            let what = missing.join("\n  - ");
            let how = "`cargo xtask test` installs and builds all of it";
            if in_ci() {
                panic!(
                    "{test}: the desktop E2E test cannot run, and CI is set, so this fails:\n  - {what}\n{how}"
                );
            }
            loud(&format!(
                "\n{bar}\nSKIPPED {test}: the desktop E2E test cannot run here (CI is unset, so this is a skip, \
                 not a pass):\n  - {what}\n{how}\n{bar}\n",
                bar = "!".repeat(78)
            ));
            None
        }
    }
}

/// Writes `message` to the real standard error: the test harness captures `eprintln!`
/// of a passing test, and a skip must not pass silently.
pub fn loud(message: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{message}");
    let _ = stderr.flush();
}

fn env_file(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|path| path.is_file())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn cargo_bin(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    Some(home.join("bin").join(name)).filter(|path| path.is_file())
}

fn display_from_env() -> Option<String> {
    std::env::var("DISPLAY")
        .ok()
        .filter(|display| !display.is_empty())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

fn collect_newer(dir: &Path, than: SystemTime, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_newer(&path, than, into);
        } else if modified(&path).is_some_and(|time| time > than) {
            into.push(path);
        }
    }
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Text a thread collects from a child's pipe.
type Log = Arc<Mutex<String>>;

fn collect(mut pipe: impl Read + Send + 'static, into: Log, prefix: &'static str) {
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    let mut log = into.lock().unwrap();
                    if prefix.is_empty() {
                        log.push_str(&text);
                    } else {
                        for line in text.lines() {
                            log.push_str(prefix);
                            log.push_str(line);
                            log.push('\n');
                        }
                    }
                }
            }
        }
    });
}

fn tail(log: &Log, lines: usize) -> String {
    let log = log.lock().unwrap();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The X display the app runs on: the session's `DISPLAY`, or a private `Xvfb` that picks
/// a free display number itself (`-displayfd`) and is stopped on drop.
#[derive(Debug)]
pub struct XDisplay {
    pub name: String,
    xvfb: Option<Child>,
}

impl XDisplay {
    pub fn start(tools: &Tools) -> XDisplay {
        let Some(xvfb) = &tools.xvfb else {
            let name = display_from_env().expect("DISPLAY is set when no Xvfb was looked for");
            return XDisplay { name, xvfb: None };
        };
        let mut child = Command::new(xvfb)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                SCREEN,
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {}: {error}", xvfb.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, number) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            // Keep the pipe open (and drained) for Xvfb's life.
            for _ in lines {}
        });
        match number.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.trim().parse::<u32>().is_ok() => XDisplay {
                name: format!(":{}", line.trim()),
                xvfb: Some(child),
            },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("Xvfb -displayfd did not name a display within 15 s: {other:?}");
            }
        }
    }

    pub fn xvfb_pid(&self) -> Option<u32> {
        self.xvfb.as_ref().map(Child::id)
    }
}

impl Drop for XDisplay {
    fn drop(&mut self) {
        if let Some(mut xvfb) = self.xvfb.take() {
            signal(xvfb.id(), "TERM");
            if wait_with_timeout(&mut xvfb, Duration::from_secs(5)).is_none() {
                let _ = xvfb.kill();
                let _ = xvfb.wait();
            }
        }
    }
}

/// A WebDriver error answer: `{"value": {"error", "message"}}`.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

/// One WebDriver session through `tauri-driver`.
#[derive(Debug)]
pub struct Session {
    addr: SocketAddr,
    pub id: String,
}

/// A W3C element reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

/// `[data-testid="NAME"]`.
pub fn testid(name: &str) -> String {
    format!("[data-testid=\"{name}\"]")
}

impl Session {
    /// `POST /session` with `capabilities`.
    pub fn create(addr: SocketAddr, capabilities: &Value) -> Result<Session, WebDriverError> {
        let value = call(addr, "POST", "/session", Some(capabilities), LAUNCH_TIMEOUT)?;
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answered no sessionId: {value}"))
            .to_owned();
        Ok(Session { addr, id })
    }

    /// A command of this session (`path` after `/session/{id}`), or its error.
    pub fn try_command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        let target = format!("/session/{}{path}", self.id);
        call(self.addr, method, &target, body, Duration::from_secs(60))
    }

    /// [`Session::try_command`], which must succeed.
    pub fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|error| {
                panic!(
                    "WebDriver {method} {path} failed: {} {}: {}",
                    error.status, error.error, error.message
                )
            })
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its value.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The first element matching `css`, if any.
    pub fn find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        match self.try_command("POST", "/element", Some(&body)) {
            Ok(value) => Some(element(&value)),
            // Stale: it was found as the page re-rendered it; look again.
            Err(error)
                if matches!(
                    error.error.as_str(),
                    "no such element" | "stale element reference"
                ) =>
            {
                None
            }
            Err(error) => panic!("find {css}: {} {}", error.error, error.message),
        }
    }

    /// Every element matching `css`.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let body = json!({"using": "css selector", "value": css});
        match self.command("POST", "/elements", Some(&body)) {
            Value::Array(found) => found.iter().map(element).collect(),
            other => panic!("find all {css}: not an array: {other}"),
        }
    }

    /// The element matching `css` once it exists; panics after `timeout`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        poll(timeout, &format!("an element {css}"), || self.find(css))
    }

    /// Waits until nothing matches `css`; panics after `timeout`.
    pub fn wait_gone(&self, css: &str, timeout: Duration) {
        poll(timeout, &format!("{css} to go away"), || {
            self.find(css).is_none().then_some(())
        });
    }

    /// Clicks `element`; retries for a while when something covers it (a toast, an
    /// animation) or it is not interactable yet.
    pub fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.try_command("POST", &path, Some(&json!({}))) {
                Ok(_) => return,
                Err(error)
                    if matches!(
                        error.error.as_str(),
                        "element click intercepted" | "element not interactable"
                    ) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("click: {} {}", error.error, error.message),
            }
        }
    }

    /// Waits for `css` and clicks it.
    pub fn click_css(&self, css: &str) {
        let element = self.wait_for(css, Duration::from_secs(10));
        self.click(&element);
    }

    /// The element's rendered text, or `None` if it is gone (stale).
    pub fn try_text(&self, element: &Element) -> Option<String> {
        match self.try_command("GET", &format!("/element/{}/text", element.0), None) {
            Ok(value) => Some(value.as_str().unwrap_or_default().to_owned()),
            Err(error) if error.error == "stale element reference" => None,
            Err(error) => panic!("element text: {} {}", error.error, error.message),
        }
    }

    /// The element's rendered text.
    pub fn text(&self, element: &Element) -> String {
        let value = self.command("GET", &format!("/element/{}/text", element.0), None);
        value.as_str().unwrap_or_default().to_owned()
    }

    /// A DOM property (`value`, `disabled`, ...).
    pub fn property(&self, element: &Element, name: &str) -> Value {
        self.command(
            "GET",
            &format!("/element/{}/property/{name}", element.0),
            None,
        )
    }

    /// An HTML attribute, if present.
    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        let value = self.command(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        );
        value.as_str().map(str::to_owned)
    }

    pub fn is_enabled(&self, element: &Element) -> bool {
        self.command("GET", &format!("/element/{}/enabled", element.0), None)
            .as_bool()
            .unwrap_or(false)
    }

    /// Types `text` into `element` as key presses (real `input` events).
    pub fn send_keys(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(&json!({"text": text})),
        );
    }

    /// Replaces the text of the input at `css` by typing: select all, Backspace, then
    /// `text` (each key an `input` event, as when a person types; WebDriver's "clear"
    /// fires none). Starts over if the page re-renders the input meanwhile.
    pub fn replace_text(&self, css: &str, text: &str) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let element = self.wait_for(css, Duration::from_secs(10));
            let path = format!("/element/{}/value", element.0);
            // Ctrl+A (Control down, a, Control up), Backspace: the field is empty.
            let typed = self
                .try_command(
                    "POST",
                    &format!("/element/{}/click", element.0),
                    Some(&json!({})),
                )
                .and_then(|_| {
                    self.try_command(
                        "POST",
                        &path,
                        Some(&json!({"text": "\u{E009}a\u{E009}\u{E003}"})),
                    )
                })
                .and_then(|_| self.try_command("POST", &path, Some(&json!({"text": text}))));
            match typed {
                Ok(_) => return,
                Err(error) if error.error == "stale element reference" && attempts < 5 => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => panic!(
                    "type {text:?} into {css}: {} {}",
                    error.error, error.message
                ),
            }
        }
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        self.try_screenshot(Duration::from_secs(60))
            .unwrap_or_else(|error| panic!("screenshot: {error}"))
    }

    /// A PNG of the window, or why not; never panics (it also runs on drop).
    ///
    /// WebKitWebDriver takes the screenshot after the page's next rendering update, and
    /// a page where nothing changes (no countdown, no animation) has none: the request
    /// would wait until something moves. So a 1-pixel, practically transparent element
    /// flickers in a corner while the screenshot is taken.
    pub fn try_screenshot(&self, timeout: Duration) -> Result<Vec<u8>, String> {
        const START: &str = "const dot = document.createElement('div');
            dot.id = 'purser-e2e-repaint';
            dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
            document.body.appendChild(dot);
            let on = false;
            window.__purserE2eRepaint = setInterval(() => {
              on = !on;
              dot.style.background = on ? 'rgba(0,0,0,0.004)' : 'transparent';
            }, 30);";
        const STOP: &str = "clearInterval(window.__purserE2eRepaint);
            document.getElementById('purser-e2e-repaint')?.remove();";
        let script = |source: &str| {
            let body = json!({"script": source, "args": []}).to_string();
            let target = format!("/session/{}/execute/sync", self.id);
            exchange(
                self.addr,
                "POST",
                &target,
                Some(&body),
                Duration::from_secs(10),
            )
        };
        script(START)?;
        let target = format!("/session/{}/screenshot", self.id);
        let taken = exchange(self.addr, "GET", &target, None, timeout);
        let _ = script(STOP);
        let (status, raw) = taken?;
        let answer: Value = serde_json::from_slice(&raw).map_err(|error| error.to_string())?;
        match (status, answer["value"].as_str()) {
            (200, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|error| format!("the screenshot is not base64: {error}")),
            _ => Err(format!("HTTP {status}: {answer}")),
        }
    }

    /// `DELETE /session/{id}`; never panics (it runs on drop).
    pub fn end(&self) -> Result<(), String> {
        let target = format!("/session/{}", self.id);
        match exchange(self.addr, "DELETE", &target, None, Duration::from_secs(20))? {
            (200, _) => Ok(()),
            (status, raw) => Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&raw))),
        }
    }
}

fn element(value: &Value) -> Element {
    Element(
        value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {value}"))
            .to_owned(),
    )
}

/// One WebDriver HTTP exchange; the answer's `value`, or the error it carries.
fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Value, WebDriverError> {
    let body = match (body, method) {
        (Some(body), _) => Some(body.to_string()),
        (None, "POST") => Some("{}".to_owned()),
        (None, _) => None,
    };
    // tauri-driver drops a request now and then when its pooled connection to
    // WebKitWebDriver was closed under it; a read-only command is safely sent again.
    let attempts = if method == "GET" { 3 } else { 1 };
    let mut answer = Err(String::new());
    for _ in 0..attempts {
        answer = exchange(addr, method, target, body.as_deref(), timeout);
        if answer.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, raw) =
        answer.unwrap_or_else(|error| panic!("WebDriver {method} {target}: {error}"));
    let answer: Value = serde_json::from_slice(&raw).unwrap_or_else(|error| {
        panic!(
            "WebDriver {method} {target}: HTTP {status} with a body that is not JSON ({error}): {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status == 200 {
        Ok(value)
    } else {
        Err(WebDriverError {
            status,
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// Sends one request on a fresh connection and reads exactly one answer (by its length),
/// then closes. No `Connection: close`: tauri-driver forwards that header to
/// WebKitWebDriver, and then fails the next request on the pooled connection it closed.
fn exchange(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|error| format!("connect to {addr}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| error.to_string())?;
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
        addr.port()
    );
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("send: {error}"))?;
    let mut raw = Vec::new();
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        if let Some(answer) = complete_answer(&raw) {
            return Ok(answer);
        }
        match stream.read(&mut buffer) {
            Ok(0) => {
                return Err(format!(
                    "the connection closed after {} bytes without a complete answer: {:?}",
                    raw.len(),
                    String::from_utf8_lossy(&raw)
                ));
            }
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("read (timeout {timeout:?}): {error}")),
        }
    }
}

/// The status and body of a complete HTTP answer in `raw`, or `None` while incomplete.
fn complete_answer(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let rest = &raw[end + 4..];
    if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        return dechunk(rest).map(|body| (status, body));
    }
    let length: usize = header("content-length")?.parse().ok()?;
    rest.get(..length).map(|body| (status, body.to_vec()))
}

/// Whether a WebDriver remote end at `addr` answers `GET /status` with 200 (tauri-driver
/// listens before its WebKitWebDriver does, and drops requests until then).
fn answers_status(addr: SocketAddr) -> bool {
    matches!(
        exchange(addr, "GET", "/status", None, Duration::from_secs(5)),
        Ok((200, _))
    )
}

/// Polls `probe` every 50 ms until it answers; panics naming `what` after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One process of the app's tree and its resident memory.
#[derive(Debug, Clone)]
pub struct ProcessMemory {
    pub pid: u32,
    pub name: String,
    /// `VmRSS`: resident pages, shared libraries counted in full in every process.
    pub rss_kib: u64,
    /// `Pss` (`smaps_rollup`): shared pages divided among their users, so a sum over
    /// processes counts each page once.
    pub pss_kib: Option<u64>,
}

/// A process as `/proc` shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    ppid: u32,
    cmdline: String,
}

fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = raw
                .split(|byte| *byte == 0)
                .filter(|word| !word.is_empty())
                .map(|word| String::from_utf8_lossy(word).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            Some(Proc { pid, ppid, cmdline })
        })
        .collect()
}

/// A D-Bus session bus that GIO autolaunched for the X display (`dbus-launch`, and the
/// `dbus-daemon` it started).
fn is_session_bus(proc: &Proc) -> bool {
    matches!(
        program(&proc.cmdline).as_str(),
        "dbus-daemon" | "dbus-launch"
    )
}

/// `roots` and every descendant of them, from one snapshot of `/proc`.
fn with_descendants(roots: &[u32], all: &[Proc]) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for proc in all {
        children.entry(proc.ppid).or_default().push(proc.pid);
    }
    let mut found: BTreeSet<u32> = BTreeSet::new();
    let mut queue: Vec<u32> = roots.to_vec();
    while let Some(pid) = queue.pop() {
        if found.insert(pid) {
            queue.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    found
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|line| line.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn alive(pid: u32) -> bool {
    // A zombie has no cmdline left; it is gone for our purposes.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| !cmdline.is_empty())
}

/// The program name of a command line (`/usr/lib/…/WebKitWebProcess 4 30` → `WebKitWebProcess`).
fn program(cmdline: &str) -> String {
    let first = cmdline.split(' ').next().unwrap_or_default();
    Path::new(first).file_name().map_or_else(
        || first.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The app on a temporary data dir, driven through one WebDriver session; everything it
/// started goes away on drop.
#[derive(Debug)]
pub struct DesktopApp {
    pub tools: Tools,
    /// Holds the data dir, the X/WebKit home dirs and the policy files; removed on drop.
    root: TempDir,
    data_dir: PathBuf,
    display: XDisplay,
    driver: Option<Child>,
    driver_log: Log,
    watchdog: Option<Child>,
    session: Option<Session>,
    agent_addr: SocketAddr,
    /// How long from spawning `tauri-driver` to a console showing the daemon's state.
    pub launch_time: Duration,
    files_written: usize,
}

impl DesktopApp {
    /// Starts the display, `tauri-driver` and the app on a fresh data dir (the daemon
    /// listening on a port of its own), and waits for the console to be ready.
    pub fn launch(tools: Tools) -> DesktopApp {
        DesktopApp::launch_with(tools, &[])
    }

    /// [`DesktopApp::launch`] with more environment for the app (e.g. a private D-Bus).
    pub fn launch_with(tools: Tools, env: &[(&str, &str)]) -> DesktopApp {
        // The CLI is built (or found) first, so the launch time is the app's alone.
        crate::binary::purser();
        let started = Instant::now();
        let root = tempfile::Builder::new()
            .prefix("purser-desktop-e2e-")
            .tempdir()
            .expect("create a temporary directory");
        let data_dir = root.path().join("data");
        let home = root.path().join("home");
        let runtime = root.path().join("runtime");
        for dir in [&home, &runtime] {
            std::fs::create_dir_all(dir).expect("create a directory for the app's environment");
        }
        restrict(&runtime);
        let display = XDisplay::start(&tools);
        let port = free_port();
        let native_port = free_port();
        let mut command = Command::new(&tools.tauri_driver);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(&tools.webkit_driver)
            // What WebKitGTK needs under Xvfb (no GPU, no DMA-BUF).
            .env("DISPLAY", &display.name)
            .env("GDK_BACKEND", "x11")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("NO_AT_BRIDGE", "1")
            // The POSIX locale of containers and CI (the console once showed a blank window
            // under it: WebKitGTK reports navigator.language "C"); the UI reads it as en-US.
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LANGUAGE")
            // WebKit's storage and caches in the temporary dir, not the user's.
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("PURSER_LOG", "info")
            .env_remove("PURSER_DATA_DIR")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut driver = command
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {}: {error}", tools.tauri_driver.display()));
        let driver_log: Log = Arc::new(Mutex::new(String::new()));
        collect(
            driver.stdout.take().expect("piped"),
            Arc::clone(&driver_log),
            "[tauri-driver] ",
        );
        collect(
            driver.stderr.take().expect("piped"),
            Arc::clone(&driver_log),
            "",
        );
        let watchdog = watchdog(driver.id(), display.xvfb_pid(), root.path());
        let mut app = DesktopApp {
            tools,
            data_dir,
            display,
            driver: Some(driver),
            driver_log,
            watchdog: Some(watchdog),
            session: None,
            agent_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            launch_time: Duration::ZERO,
            files_written: 0,
            root,
        };
        app.wait_for_driver(port);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {
                "application": app.tools.app,
                "args": ["--data-dir", path_str(&app.data_dir), "--listen", "127.0.0.1:0"],
            },
        }}});
        match Session::create(addr, &capabilities) {
            Ok(session) => app.session = Some(session),
            Err(error) => panic!(
                "tauri-driver could not start the app ({} {}: {}); its log ends:\n{}",
                error.status,
                error.error,
                error.message,
                app.log_tail(60)
            ),
        }
        // The embedded daemon: its admin socket answers and names the agent port.
        let status = poll(LAUNCH_TIMEOUT, "the embedded daemon's admin socket", || {
            let output = app.cli(&["--json", "status"]);
            output
                .status
                .success()
                .then(|| serde_json::from_slice::<Value>(&output.stdout).ok())
                .flatten()
        });
        app.agent_addr = status["listen"]
            .as_str()
            .and_then(|listen| listen.parse().ok())
            .unwrap_or_else(|| panic!("status names no listen address: {status}"));
        // The console is up once its header shows the daemon's state.
        let session = app.session();
        let ready = Instant::now();
        while session.find(&testid("kill-state")).is_none() {
            if ready.elapsed() > LAUNCH_TIMEOUT {
                let body = session.execute("return document.body.innerText.slice(0, 2000)", &[]);
                panic!(
                    "the console never showed the daemon's state within {LAUNCH_TIMEOUT:?}; the page says {body}; the log ends:\n{}",
                    app.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        app.launch_time = started.elapsed();
        app
    }

    fn wait_for_driver(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.as_mut().expect("the driver runs").try_wait() {
                panic!(
                    "tauri-driver exited ({status}) before it listened; its log:\n{}",
                    self.log_tail(40)
                );
            }
            if answers_status(addr) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not answer on port {port} within 20 s; its log:\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("the session is open")
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The X display the app runs on.
    pub fn display_name(&self) -> &str {
        &self.display.name
    }

    /// The embedded daemon's agent API.
    pub fn agent_addr(&self) -> SocketAddr {
        self.agent_addr
    }

    /// The last `lines` lines of `tauri-driver`, `WebKitWebDriver` and the app's logs.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.driver_log, lines)
    }

    /// `purser --data-dir DIR ARGS…` against the app's embedded daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        purser_command(&self.data_dir)
            .args(args)
            .output()
            .expect("run the purser CLI")
    }

    /// `purser --json ARGS…`, which must succeed; its stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.cli(&all);
        assert!(
            output.status.success(),
            "purser {} failed ({}):\nstdout: {}\nstderr: {}",
            all.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "purser {} printed no JSON ({error}): {}",
                all.join(" "),
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// `purser policy apply` of `policy`; the new version.
    pub fn apply_policy(&mut self, policy: &str) -> u64 {
        self.files_written += 1;
        let file = self
            .root
            .path()
            .join(format!("{}-policy.toml", self.files_written));
        std::fs::write(&file, policy).expect("write the policy file");
        let applied = self.cli_json(&["policy", "apply", path_str(&file)]);
        applied["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("policy apply answered no version: {applied}"))
    }

    /// The running policy (`purser policy show --json`): `{version, text, …}`.
    pub fn policy(&self) -> Value {
        self.cli_json(&["policy", "show"])
    }

    /// `purser agent add NAME`, and that agent's HTTP client of the app's daemon.
    pub fn agent(&self, name: &str) -> Agent {
        let created = self.cli_json(&["agent", "add", name]);
        let token = created["token"]
            .as_str()
            .unwrap_or_else(|| panic!("agent add printed no token: {created}"));
        Agent::new(name, self.agent_addr, token)
    }

    /// The app's process: `purser-desktop` started on this data dir.
    pub fn app_pid(&self) -> Option<u32> {
        let needle = format!("--data-dir {}", self.data_dir.display());
        let name = program(&self.tools.app.display().to_string());
        processes()
            .into_iter()
            .find(|proc| program(&proc.cmdline) == name && proc.cmdline.contains(&needle))
            .map(|proc| proc.pid)
    }

    /// Resident memory of the app and every process it started (WebKit's web and network
    /// processes), from `/proc/PID/status` `VmRSS`.
    pub fn memory(&self) -> Vec<ProcessMemory> {
        let Some(app) = self.app_pid() else {
            return Vec::new();
        };
        let all = processes();
        let tree = with_descendants(&[app], &all);
        all.iter()
            .filter(|proc| tree.contains(&proc.pid))
            .filter_map(|proc| {
                Some(ProcessMemory {
                    pid: proc.pid,
                    name: program(&proc.cmdline),
                    rss_kib: rss_kib(proc.pid)?,
                    pss_kib: pss_kib(proc.pid),
                })
            })
            .collect()
    }

    /// A screenshot of the window, saved as `dir/NAME.png`; its path. Checks it is a PNG
    /// of the window's size that is not one flat colour.
    pub fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let png = self.session().screenshot();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name}: the screenshot is not a PNG"
        );
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(
            width >= 900 && height >= 600,
            "{name}: the screenshot is {width}×{height}, smaller than the window's minimum 900×600"
        );
        std::fs::create_dir_all(dir).expect("create the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write the screenshot");
        if let Some(colours) = colour_count(&path) {
            assert!(
                colours > 64,
                "{name}: the screenshot has only {colours} colours: a blank window?"
            );
        }
        path
    }

    /// Ends the session, quits the app (SIGTERM: it stops its daemon), stops
    /// `tauri-driver` (SIGTERM) and kills whatever of the tree is left; what it had to kill.
    pub fn shut_down(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        // The watchdog's command line names the root too: it goes first.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(session) = self.session.take() {
            if let Err(error) = session.end() {
                notes.push(format!("ending the session: {error}"));
            }
        }
        let all = processes();
        let root = self.root.path().display().to_string();
        let mut roots: Vec<u32> = all
            .iter()
            .filter(|proc| proc.cmdline.contains(&root))
            .map(|proc| proc.pid)
            .collect();
        if let Some(driver) = &self.driver {
            roots.push(driver.id());
        }
        let tree: Vec<Proc> = {
            let pids = with_descendants(&roots, &all);
            all.into_iter()
                .filter(|proc| pids.contains(&proc.pid))
                .collect()
        };
        // Closing the window only hides it (the tray keeps the app): quit it like Quit.
        if let Some(app) = self.app_pid() {
            signal(app, "TERM");
            let deadline = Instant::now() + Duration::from_secs(15);
            while alive(app) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive(app) {
                notes.push(format!(
                    "purser-desktop {app} ignored SIGTERM for 15 s: killed"
                ));
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(app.to_string())
                    .status();
            }
        }
        if let Some(mut driver) = self.driver.take() {
            signal(driver.id(), "TERM");
            if wait_with_timeout(&mut driver, Duration::from_secs(10)).is_none() {
                notes.push("tauri-driver ignored SIGTERM for 10 s: killed".to_owned());
                let _ = driver.kill();
                let _ = driver.wait();
            }
        }
        // What is left of the tree gets a moment to follow its parents out (WebKit's
        // helpers exit when the app's connection closes); then whatever remains is killed,
        // by pid, and only if it is still the same program.
        let same = |proc: &Proc| {
            std::fs::read(format!("/proc/{}/cmdline", proc.pid)).is_ok_and(|raw| {
                let first = raw.split(|byte| *byte == 0).next().unwrap_or_default();
                String::from_utf8_lossy(first) == proc.cmdline.split(' ').next().unwrap_or_default()
            }) && alive(proc.pid)
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while tree.iter().any(|proc| same(proc) && !is_session_bus(proc))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        for proc in tree.iter().filter(|proc| same(proc)) {
            // GIO autolaunches a session bus for the display when there is none; it is
            // expected, and ours to stop.
            if !is_session_bus(proc) {
                notes.push(format!(
                    "stray {} ({}) was still running: killed",
                    program(&proc.cmdline),
                    proc.pid
                ));
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(proc.pid.to_string())
                .status();
        }
        notes
    }
}

impl Drop for DesktopApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(session) = &self.session {
                // The state the failure left on screen, for whoever reads the log.
                let path = target_dir().join("purser-desktop-e2e-failure.png");
                // Never a panic here (a second one aborts the test binary).
                let saved = session
                    .try_screenshot(Duration::from_secs(10))
                    .is_ok_and(|png| std::fs::write(&path, png).is_ok());
                if saved {
                    eprintln!("the window at the failure: {}", path.display());
                }
            }
            eprintln!(
                "tauri-driver / WebKitWebDriver / app log (last 80 lines):\n{}",
                self.log_tail(80)
            );
        }
        for note in self.shut_down() {
            eprintln!("desktop E2E teardown: {note}");
        }
    }
}

/// ImageMagick's count of distinct colours in a PNG, when `identify` is installed.
fn colour_count(path: &Path) -> Option<u64> {
    let output = Command::new("identify")
        .args(["-format", "%k"])
        .arg(path)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// `chmod 700` (XDG_RUNTIME_DIR must be private, or GTK complains).
fn restrict(dir: &Path) {
    let _ = Command::new("chmod").arg("700").arg(dir).status();
}

/// A process that stops `tauri-driver`, every process naming `root` (the app: its data dir
/// is inside) and Xvfb once this test process is gone without dropping the
/// [`DesktopApp`] (a crash, a SIGKILL), and removes `root`.
fn watchdog(driver_pid: u32, xvfb_pid: Option<u32>, root: &Path) -> Child {
    const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
for f in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' < "$f" 2>/dev/null | grep -qF -- "$4"; then
    p=${f#/proc/}; p=${p%/cmdline}
    [ "$p" != "$$" ] && kill -TERM "$p" 2>/dev/null
  fi
done
kill -TERM "$2" 2>/dev/null
sleep 3
[ "$3" != 0 ] && kill -TERM "$3" 2>/dev/null
rm -rf -- "$4"
"#;
    Command::new("sh")
        .args(["-c", SCRIPT, "purser-desktop-e2e-watchdog"])
        .arg(std::process::id().to_string())
        .arg(driver_pid.to_string())
        .arg(xvfb_pid.unwrap_or(0).to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the watchdog")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_and_process_trees() {
        assert_eq!(
            program("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess 4 30 34"),
            "WebKitWebProcess"
        );
        assert_eq!(
            program("purser-desktop --data-dir /tmp/x"),
            "purser-desktop"
        );
        let all = [
            Proc {
                pid: 10,
                ppid: 1,
                cmdline: "a".into(),
            },
            Proc {
                pid: 11,
                ppid: 10,
                cmdline: "b".into(),
            },
            Proc {
                pid: 12,
                ppid: 11,
                cmdline: "c".into(),
            },
            Proc {
                pid: 13,
                ppid: 1,
                cmdline: "d".into(),
            },
        ];
        assert_eq!(
            with_descendants(&[10], &all)
                .into_iter()
                .collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
        // This very process is in /proc, with its memory.
        let me = std::process::id();
        assert!(processes().iter().any(|proc| proc.pid == me));
        assert!(rss_kib(me).is_some_and(|kib| kib > 0));
    }

    #[test]
    fn ci_values() {
        assert!(ci_flag("true"));
        assert!(ci_flag("1"));
        assert!(!ci_flag("false"));
        assert!(!ci_flag(" "));
    }
}
