//! From a streaming HTTP response to [`StreamEvent`]s.
//!
//! `eventsource-stream` splits the body into Server-Sent Events as the bytes
//! arrive; a protocol's [`Decoder`] turns each into zero or more
//! [`StreamEvent`]s and says when the stream is over. [`decode`] drives the
//! two, so each protocol is a plain state machine with no async in it, and a
//! unit test can feed it recorded chunks.

use super::{EventStream, ProviderError, StreamEvent};
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::StreamExt;
use std::collections::VecDeque;

/// One protocol's reading of its event stream.
pub trait Decoder: Send + 'static {
    /// Reads one event, pushing what it means onto `out`; returns true when
    /// the event ends the stream.
    fn event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError>;

    /// The stream is over (by [`Decoder::event`] or because the body ended):
    /// flushes what is pending, or says the stream ended too early.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
}

/// The [`StreamEvent`]s of `response`, decoded by `decoder` as they arrive.
pub fn decode(response: reqwest::Response, decoder: impl Decoder) -> EventStream {
    let events = response.bytes_stream().eventsource().map(|event| {
        event.map_err(|error| match error {
            EventStreamError::Transport(error) => super::connection_error(error),
            EventStreamError::Utf8(error) => ProviderError::Malformed(format!("the stream is not UTF-8: {error}")),
            EventStreamError::Parser(error) => ProviderError::Malformed(format!("the stream is not SSE: {error}")),
        })
    });
    let state = State { events: Box::pin(events), decoder, ready: VecDeque::new(), failed: None, over: false };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            // What was decoded before an error goes out before it.
            if let Some(event) = state.ready.pop_front() {
                return Some((Ok(event), state));
            }
            if let Some(error) = state.failed.take() {
                return Some((Err(error), state));
            }
            if state.over {
                return None;
            }
            let mut out = Vec::new();
            let result = match state.events.next().await {
                Some(Ok(event)) => match state.decoder.event(&event, &mut out) {
                    Ok(false) => Ok(()),
                    Ok(true) => {
                        state.over = true;
                        state.decoder.end(&mut out)
                    }
                    Err(error) => Err(error),
                },
                Some(Err(error)) => Err(error),
                None => {
                    state.over = true;
                    state.decoder.end(&mut out)
                }
            };
            state.ready.extend(out);
            if let Err(error) = result {
                state.over = true;
                state.failed = Some(error);
            }
        }
    })
    .boxed()
}

struct State<D> {
    events: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Event, ProviderError>> + Send>>,
    decoder: D,
    ready: VecDeque<StreamEvent>,
    failed: Option<ProviderError>,
    over: bool,
}
