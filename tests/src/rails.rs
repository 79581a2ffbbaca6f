//! The real peers of the payment-rail tests: [`Localstripe`] (a Stripe-compatible
//! server from PyPI, the Stripe proxy's upstream, whose own API tells what reached it),
//! [`stripe_call`] (the official Stripe SDK as the agent, through the proxy), and
//! [`x402_payment_required`] (a 402 answer built by the x402 SDK's server side).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::TestDaemon;
use crate::http::Request;
use crate::peers;

/// A `localstripe` server on a port of its own, stopped on drop (and by a watchdog if
/// the test process dies first).
#[derive(Debug)]
pub struct Localstripe {
    port: u16,
    /// The key the proxy uses upstream; localstripe accepts any `sk_…`.
    key: String,
    child: Option<(Child, Child)>,
}

impl Localstripe {
    /// Starts one on a free port; returns once it answers.
    pub fn start(key: &str) -> Localstripe {
        let port = free_port();
        let mut localstripe = Localstripe {
            port,
            key: key.to_owned(),
            child: None,
        };
        localstripe.restart();
        localstripe
    }

    /// `http://127.0.0.1:PORT`, the proxy's `--stripe-upstream`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops it (its data is gone: localstripe keeps everything in memory).
    pub fn stop(&mut self) {
        if let Some((mut child, mut watchdog)) = self.child.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr()).is_ok() {
            assert!(
                Instant::now() < deadline,
                "localstripe still answers after kill"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(peers::python())
            .args(["-m", "localstripe", "--from-scratch", "--port"])
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start localstripe (`cargo xtask peers` installs it)");
        let watchdog = watchdog(child.id());
        self.child = Some((child, watchdog));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = Request::new("GET", "/v1/balance")
                .header("Host", &format!("127.0.0.1:{}", self.port))
                .header("Authorization", &format!("Bearer {}", self.key))
                .timeout(Duration::from_secs(2))
                .try_send(self.addr())
            {
                if response.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "localstripe did not answer on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every PaymentIntent localstripe holds, straight from its own API (not through
    /// Purser): what actually reached "Stripe".
    pub fn payment_intents(&self) -> Vec<Value> {
        let response = Request::new("GET", "/v1/payment_intents?limit=100")
            .header("Host", &format!("127.0.0.1:{}", self.port))
            .header("Authorization", &format!("Bearer {}", self.key))
            .send(self.addr());
        assert_eq!(
            response.status,
            200,
            "localstripe list: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        let list = response.json();
        assert_eq!(
            list["has_more"], false,
            "more than 100 PaymentIntents: {list}"
        );
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// `POST PATH` with a form body straight to localstripe (the principal's own,
    /// Purser-less use of the account).
    pub fn post(&self, path: &str, form: &str) -> Value {
        let response = Request::new("POST", path)
            .header("Host", &format!("127.0.0.1:{}", self.port))
            .header("Authorization", &format!("Bearer {}", self.key))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.as_bytes().to_vec())
            .send(self.addr());
        assert_eq!(
            response.status,
            200,
            "localstripe {path}: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        response.json()
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        if let Some((mut child, mut watchdog)) = self.child.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

/// Kills `pid` once this test process is gone.
fn watchdog(pid: u32) -> Child {
    const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.3; done
kill -KILL "$2" 2>/dev/null
"#;
    Command::new("sh")
        .args(["-c", SCRIPT, "localstripe-watchdog"])
        .arg(std::process::id().to_string())
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the watchdog")
}

/// The Stripe proxy's `http://ADDR`, from the line `purser serve` printed last.
pub fn stripe_proxy_url(daemon: &TestDaemon) -> String {
    const PREFIX: &str = "[stdout] purser: stripe proxy listening on ";
    daemon
        .stderr()
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(PREFIX))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "purser serve announced no Stripe proxy:\n{}",
                daemon.log_tail(20)
            )
        })
}

/// The official Stripe SDK, as an agent with `token`, making `call` through the proxy
/// at `api_base` (see `tests/peers/stripe_agent.py`): `{"ok": true, "object"}` or
/// `{"ok": false, "error": {"class", "http_status", "body", "headers"}}`.
pub fn stripe_call(api_base: &str, token: &str, call: &Value) -> Value {
    let output = stripe_command(api_base, token, call)
        .output()
        .expect("run the Stripe SDK peer");
    parse_peer_output(&output)
}

/// [`stripe_call`] as a command, to run several at once.
pub fn stripe_command(api_base: &str, token: &str, call: &Value) -> Command {
    let mut command = peers::python_script("stripe_agent.py");
    command
        .arg(api_base)
        .arg(call.to_string())
        .env("PURSER_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The JSON line a peer printed; panics with its stderr otherwise.
pub fn parse_peer_output(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "the peer printed no JSON ({error}; {}):\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The JSON body of a 402 answer that the x402 SDK's resource server builds (see
/// `tests/peers/x402_server.py`).
pub fn x402_payment_required(
    version: u8,
    network: &str,
    price: &str,
    pay_to: &str,
    resource: &str,
) -> Value {
    let output = peers::python_script("x402_server.py")
        .args([
            "requirements",
            &version.to_string(),
            network,
            price,
            pay_to,
            resource,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run the x402 peer");
    parse_peer_output(&output)
}
