//! [`Notifier`]: the task that turns the daemon's events into notifications and the
//! principal's clicks into decisions.
//!
//! - `pending` → a [`Prompt`] of its own (or, in a storm or with
//!   [`NotifySettings::max_shown`] prompts up already, the summary), each on its own
//!   task that shows it (bounded by the call timeout), waits for a click, and closes it
//!   when told the request was decided elsewhere.
//! - `approval_decided`, `expired`, `void` and the kill switch's `cancelled_ids` → that
//!   request's notification is closed and the summary's count refreshed; `lagged` →
//!   every notification whose request no longer waits is closed.
//! - A click: Approve approves once, Deny denies, through the same [`Console`] as the
//!   inbox and the CLI; the store re-checks, so a click on a request decided meanwhile
//!   changes nothing and a notice says it was already decided. Open asks the [`Opener`]
//!   (the desktop app) to bring the console to that request.
//! - The kill switch engaged or lifted, from anywhere → a confirming notice.
//!
//! What this module must not do: decide anything itself, wait on the bus inside the event
//! loop (every D-Bus call runs on a task of its own, bounded by
//! [`NotifySettings::call_timeout`]), or keep requests alive: a notification lost or never
//! shown leaves the request waiting in the inbox and expiring on time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout};
use purser_daemon::{Console, ConsoleError, Event, EventKind, StoreError};
use purser_store::{GrantChoice, Store};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::prompt::{PendingRequest, Prompt, action, notice, summary_prompt};
use crate::settings::NotifySettings;
use crate::storm::{Delivery, StormGuard};

/// The app name the notification server shows.
pub const APP_NAME: &str = "Purser";
/// Why a request denied from a notification was denied (kept in the audit trail).
pub const DENY_REASON: &str = "denied from a desktop notification";

/// Brings the console to the front, at one request (or the inbox when `None`).
pub trait Opener: Send + Sync + 'static {
    fn open(&self, authorization_id: Option<&str>);
}

/// The running notifier; dropping it stops it.
#[derive(Debug)]
pub struct Notifier {
    task: JoinHandle<()>,
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Notifier {
    /// Starts following `console`'s events. Must be called inside a tokio runtime.
    pub fn spawn<S: Store + 'static>(
        console: Console<S>,
        settings: NotifySettings,
        opener: Option<Arc<dyn Opener>>,
    ) -> Notifier {
        let mut subscription = console.events().subscribe();
        let mut run = Run::new(console, settings, opener);
        let task = tokio::spawn(async move {
            tracing::info!("desktop notifications on");
            while let Some(event) = subscription.next().await {
                run.on_event(&event).await;
            }
        });
        Notifier { task }
    }
}

/// The event loop's state.
struct Run<S: Store + 'static> {
    shared: Arc<Shared<S>>,
    storm: StormGuard,
    /// Closers of the single prompts shown (or being shown), by authorization id.
    prompts: HashMap<String, oneshot::Sender<()>>,
    /// The summary's task, while a storm's summary is up: it takes the count to show
    /// (0 closes it).
    summary: Option<mpsc::UnboundedSender<usize>>,
}

/// What the prompt tasks need.
struct Shared<S: Store + 'static> {
    console: Console<S>,
    settings: NotifySettings,
    opener: Option<Arc<dyn Opener>>,
}

/// The part of a `kill_switch` event the notifier reads.
#[derive(Debug, Deserialize)]
struct KillSwitchEvent {
    engaged: bool,
    #[serde(default)]
    cancelled_ids: Vec<String>,
}

/// The part of any authorization event the notifier reads.
#[derive(Debug, Deserialize)]
struct AuthorizationEvent {
    id: String,
}

impl<S: Store + 'static> Run<S> {
    fn new(
        console: Console<S>,
        settings: NotifySettings,
        opener: Option<Arc<dyn Opener>>,
    ) -> Run<S> {
        Run {
            storm: StormGuard::new(settings.storm_max_single, settings.storm_window),
            shared: Arc::new(Shared {
                console,
                settings,
                opener,
            }),
            prompts: HashMap::new(),
            summary: None,
        }
    }

    async fn on_event(&mut self, event: &Event) {
        match event.kind {
            EventKind::Pending => self.on_pending(&event.data).await,
            EventKind::ApprovalDecided | EventKind::Expired | EventKind::Void => {
                if let Ok(decided) = serde_json::from_str::<AuthorizationEvent>(&event.data) {
                    self.close(&decided.id);
                    self.refresh_summary().await;
                }
            }
            EventKind::KillSwitch => {
                let Ok(kill) = serde_json::from_str::<KillSwitchEvent>(&event.data) else {
                    return;
                };
                for id in &kill.cancelled_ids {
                    self.close(id);
                }
                self.refresh_summary().await;
                self.announce_kill_switch(&kill);
            }
            EventKind::Lagged => self.reconcile().await,
            EventKind::Decision
            | EventKind::PolicyApplied
            | EventKind::AgentChanged
            | EventKind::Capture
            | EventKind::Usage => {}
        }
    }

    async fn on_pending(&mut self, data: &str) {
        let request = match PendingRequest::from_event(data) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(%error, "cannot read a pending event; the request waits in the inbox");
                return;
            }
        };
        if self.is_muted(&request) {
            tracing::debug!(id = %request.id, "below the mute amount: not notified");
            return;
        }
        let delivery = if self.prompts.len() >= self.shared.settings.max_shown {
            Delivery::Summary
        } else {
            self.storm.arrive(Instant::now())
        };
        match delivery {
            Delivery::Single => {
                let (close, closed) = oneshot::channel();
                self.prompts.insert(request.id.clone(), close);
                tokio::spawn(prompt_task(Arc::clone(&self.shared), request, closed));
            }
            Delivery::Summary => {
                let waiting = self.waiting().await.unwrap_or(self.prompts.len() + 1);
                self.show_summary(waiting);
            }
        }
    }

    fn is_muted(&self, request: &PendingRequest) -> bool {
        match (request.amount.parse(), request.currency.parse()) {
            (Ok(amount), Ok(currency)) => self.shared.settings.is_muted(amount, &currency),
            _ => false,
        }
    }

    /// Closes `id`'s notification, if one was shown.
    fn close(&mut self, id: &str) {
        if let Some(close) = self.prompts.remove(id) {
            // The task may have ended already (clicked, or never shown): nothing to close.
            let _ = close.send(());
        }
    }

    /// How many requests wait for the principal now.
    async fn waiting(&self) -> Option<usize> {
        match self.shared.console.approvals().await {
            Ok(pending) => Some(pending.len()),
            Err(error) => {
                tracing::warn!(%error, "cannot count the pending requests");
                None
            }
        }
    }

    fn show_summary(&mut self, waiting: usize) {
        if let Some(summary) = &self.summary {
            if summary.send(waiting).is_ok() {
                return;
            }
        }
        let (counts, updates) = mpsc::unbounded_channel();
        let _ = counts.send(waiting);
        self.summary = Some(counts);
        tokio::spawn(summary_task(Arc::clone(&self.shared), updates));
    }

    /// After a decision: the summary shows the new count, or goes when nothing waits.
    async fn refresh_summary(&mut self) {
        if self.summary.is_none() {
            return;
        }
        let Some(waiting) = self.waiting().await else {
            return;
        };
        if waiting == 0 {
            if let Some(summary) = self.summary.take() {
                let _ = summary.send(0);
            }
        } else {
            self.show_summary(waiting);
        }
    }

    /// After missed events: close every notification whose request no longer waits.
    async fn reconcile(&mut self) {
        let Ok(pending) = self.shared.console.approvals().await else {
            return;
        };
        let waiting: std::collections::HashSet<&str> =
            pending.iter().map(|a| a.id.as_str()).collect();
        let stale: Vec<String> = self
            .prompts
            .keys()
            .filter(|id| !waiting.contains(id.as_str()))
            .cloned()
            .collect();
        for id in stale {
            self.close(&id);
        }
        self.refresh_summary().await;
    }

    fn announce_kill_switch(&self, kill: &KillSwitchEvent) {
        let prompt = if kill.engaged {
            let cancelled = match kill.cancelled_ids.len() {
                0 => "No request was waiting.".to_owned(),
                1 => "1 waiting request was cancelled.".to_owned(),
                n => format!("{n} waiting requests were cancelled."),
            };
            notice(
                "All agent spending stopped",
                format!(
                    "Every agent request is denied until you resume. {cancelled} Resume from the console, the tray or `purser resume`."
                ),
            )
        } else {
            notice(
                "Agent spending resumed",
                "Agents' requests are decided by the policy again.",
            )
        };
        tokio::spawn(announce(Arc::clone(&self.shared), prompt));
    }
}

/// Shows one request's prompt, waits for a click or for the request to be decided
/// elsewhere, and acts on the click.
async fn prompt_task<S: Store + 'static>(
    shared: Arc<Shared<S>>,
    request: PendingRequest,
    closed: oneshot::Receiver<()>,
) {
    let prompt = request.prompt(shared.opener.is_some());
    let Some(handle) = show(&shared.settings, &prompt, None).await else {
        return;
    };
    let mut response = None;
    tokio::select! {
        () = handle.wait_for_action_async(|r| response = Some(r.clone())) => {}
        _ = closed => {
            close(&shared.settings, &handle).await;
            return;
        }
    }
    match response {
        Some(NotificationResponse::Action(key)) if key == action::APPROVE => {
            decide(&shared, &request, Choice::Approve).await;
        }
        Some(NotificationResponse::Action(key)) if key == action::DENY => {
            decide(&shared, &request, Choice::Deny).await;
        }
        Some(NotificationResponse::Action(key)) if key == action::OPEN => {
            open(&shared, Some(&request.id));
        }
        Some(NotificationResponse::Default) => open(&shared, Some(&request.id)),
        Some(other) => {
            tracing::debug!(id = %request.id, ?other, "notification dismissed; the request still waits in the inbox")
        }
        None => {}
    }
}

/// The storm's summary: shown, replaced in place with each new count, closed at 0.
async fn summary_task<S: Store + 'static>(
    shared: Arc<Shared<S>>,
    mut counts: mpsc::UnboundedReceiver<usize>,
) {
    let mut shown: Option<NotificationHandle> = None;
    loop {
        let next = match &shown {
            Some(handle) => {
                let mut response = None;
                tokio::select! {
                    () = handle.wait_for_action_async(|r| response = Some(r.clone())) => {
                        if matches!(response, Some(NotificationResponse::Default))
                            || matches!(&response, Some(NotificationResponse::Action(key)) if key == action::OPEN)
                        {
                            open(&shared, None);
                        }
                        // Clicked or dismissed: the next count shows a new one.
                        shown = None;
                        continue;
                    }
                    count = counts.recv() => count,
                }
            }
            None => counts.recv().await,
        };
        let Some(waiting) = next else {
            break;
        };
        if waiting == 0 {
            break;
        }
        let prompt = summary_prompt(waiting, shared.opener.is_some());
        let replaces = shown.as_ref().map(NotificationHandle::id);
        if let Some(handle) = show(&shared.settings, &prompt, replaces).await {
            shown = Some(handle);
        }
    }
    if let Some(handle) = shown {
        close(&shared.settings, &handle).await;
    }
}

/// The two buttons that decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Deny,
}

/// Acts on an Approve / Deny click, and says so when it changed nothing.
async fn decide<S: Store + 'static>(
    shared: &Arc<Shared<S>>,
    request: &PendingRequest,
    choice: Choice,
) {
    if let Some(prompt) = decide_on_click(&shared.console, request, choice).await {
        announce(Arc::clone(shared), prompt).await;
    }
}

/// What a click on Approve / Deny does: the same decision as the console's, and the
/// notice to show when it did not do what the principal asked (already decided
/// elsewhere, refused by the re-check, the store unavailable), `None` when it did.
pub async fn decide_on_click<S: Store + 'static>(
    console: &Console<S>,
    request: &PendingRequest,
    choice: Choice,
) -> Option<Prompt> {
    let result = match choice {
        Choice::Approve => console.approve(&request.id, GrantChoice::Once).await,
        Choice::Deny => {
            console
                .deny(&request.id, Some(DENY_REASON.to_owned()))
                .await
        }
    };
    match result {
        Ok(authorization) => {
            tracing::info!(id = %request.id, status = authorization.status.as_str(), "decided from a notification");
            match (choice, authorization.status.as_str()) {
                (Choice::Approve, "approved") | (Choice::Deny, "denied") => None,
                (_, status) => Some(notice(
                    format!("Not approved: {}", request.headline()),
                    format!(
                        "The request is {status}: {}",
                        authorization
                            .reasons
                            .first()
                            .map_or("", |reason| reason.message.as_str())
                    ),
                )),
            }
        }
        Err(ConsoleError::Store(StoreError::InvalidState(why) | StoreError::NotFound(why))) => {
            tracing::info!(id = %request.id, %why, "a notification was clicked after its request was decided");
            Some(notice(
                format!("Already decided: {}", request.headline()),
                format!("Nothing changed ({why})."),
            ))
        }
        Err(error) => {
            tracing::warn!(id = %request.id, %error, "a decision from a notification failed");
            Some(notice(
                format!("Could not decide: {}", request.headline()),
                format!("{error}. The request still waits in the Purser inbox."),
            ))
        }
    }
}

fn open<S: Store + 'static>(shared: &Shared<S>, id: Option<&str>) {
    if let Some(opener) = &shared.opener {
        opener.open(id);
    }
}

/// A notice without actions; it goes away by itself.
async fn announce<S: Store + 'static>(shared: Arc<Shared<S>>, prompt: Prompt) {
    let _ = show(&shared.settings, &prompt, None).await;
}

/// Sends one notification, bounded by the call timeout; `None` (and a warning) when there
/// is no notification server or it does not answer in time.
async fn show(
    settings: &NotifySettings,
    prompt: &Prompt,
    replaces: Option<u32>,
) -> Option<NotificationHandle> {
    let mut notification = Notification::new();
    notification
        .appname(APP_NAME)
        .summary(&prompt.summary)
        .body(&prompt.body)
        .icon("dialog-password");
    for (key, label) in &prompt.actions {
        notification.action(key, label);
    }
    if !prompt.actions.is_empty() {
        // A prompt stays until it is answered or its request is decided.
        notification.timeout(Timeout::Never);
    }
    if let Some(id) = replaces {
        notification.id(id);
    }
    match tokio::time::timeout(settings.call_timeout, notification.show_async()).await {
        Ok(Ok(handle)) => Some(handle),
        Ok(Err(error)) => {
            tracing::warn!(%error, summary = %prompt.summary, "no desktop notification (is a notification server running?); the request waits in the inbox and the tray");
            None
        }
        Err(_) => {
            tracing::warn!(timeout_ms = settings.call_timeout.as_millis() as u64, summary = %prompt.summary, "the notification server did not answer in time; the request waits in the inbox and the tray");
            None
        }
    }
}

async fn close(settings: &NotifySettings, handle: &NotificationHandle) {
    if tokio::time::timeout(settings.call_timeout, handle.close_async())
        .await
        .is_err()
    {
        tracing::warn!(
            id = handle.id(),
            "the notification server did not close a notification in time"
        );
    }
}
