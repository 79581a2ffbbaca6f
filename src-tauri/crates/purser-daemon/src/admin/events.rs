//! `GET /admin/events`: the [`EventBus`](crate::events::EventBus) as server-sent events,
//! one `event: KIND` + `data: JSON` per happening, with keep-alive comments so idle
//! connections stay open through proxies and clients notice a dead daemon. The stream
//! ends when the daemon shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use purser_store::Store;

use super::AdminState;

/// How often an idle stream gets a keep-alive comment.
pub const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(15);

pub(crate) async fn events<S: Store + Clone + 'static>(
    State(state): State<AdminState<S>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the answer's head is sent: whatever happens after the client
    // sees the head reaches it.
    let subscription = state.console.events().subscribe();
    let shutdown = state.shutdown.listener();
    let stream = futures_util::stream::unfold(
        (subscription, shutdown),
        |(mut subscription, mut shutdown)| async move {
            let event = tokio::select! {
                biased;
                () = shutdown.recv() => None,
                event = subscription.next() => event,
            }?;
            let sse = Event::default()
                .event(event.kind.as_str())
                .data(&*event.data);
            Some((Ok(sse), (subscription, shutdown)))
        },
    );
    Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(KEEP_ALIVE_EVERY)
            .text("keep-alive"),
    )
}
