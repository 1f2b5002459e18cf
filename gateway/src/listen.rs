//! Accepting connections: HTTP/1.1 over TCP, with a deadline for clients
//! that connect and then say nothing.
//!
//! `axum::serve` keeps a connection for as long as the client holds it open:
//! one that sends half a request line, or finishes a request and never
//! sends the next, costs a descriptor and a task forever, and a few thousand
//! of them starve the server. Here each connection is served by hyper with a
//! header timeout: the head of every request, the first as well as each one
//! after an idle keep-alive pause, must arrive within it, or the connection
//! is closed. A response that streams for long (`/event`) is not affected:
//! the clock runs only while a request head is awaited. Running out of
//! descriptors on `accept` pauses accepting briefly instead of ending the
//! server.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How long a client may take to send a request's head, and how long an
/// idle keep-alive connection is kept.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` resolves, then lets open
/// connections finish what they are doing.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Events are small writes: without TCP_NODELAY, Nagle's algorithm
        // holds each one back until the previous one is acknowledged.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on a connection: {error}");
        }
        // Every request carries the address it came from (for the audit log).
        let service = TowerToHyperService::new(router.clone().map_request(move |r: hyper::Request<Incoming>| {
            let mut request = r.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        }));
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!("connection ended: {error}");
                    }
                }
                _ = async { closed.wait_for(|closing| *closing).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    // Every connection holds a receiver: waiting for the channel to close
    // waits for the last of them to finish.
    let _ = closing.send(true);
    drop(closed);
    closing.closed().await;
}
