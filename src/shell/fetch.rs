//! Outbound HTTP with a time limit, shared by the alert channels (counting Worker) and the SNS certificate
//! fetch (front Worker).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use worker::{AbortController, Delay, Fetch, Request, Response};

/// An endpoint that has not answered by then counts as failed: a webhook must answer its ESP quickly, and a
/// cron run must not be held up by one stuck endpoint.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request`, giving up (and aborting it) after [`FETCH_TIMEOUT`].
pub async fn send_with_timeout(request: Request) -> Result<Response, String> {
    let controller = AbortController::default();
    let fetch = Fetch::Request(request);
    match first_of(fetch.send_with_signal(&controller.signal()), Delay::from(FETCH_TIMEOUT)).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(err)) => Err(format!("fetch: {err}")),
        Err(()) => {
            controller.abort();
            Err(format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))
        }
    }
}

/// Whichever finishes first: `Ok` with the first future's output, or `Err` with the second's.
async fn first_of<A: Future, B: Future>(a: A, b: B) -> Result<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Err(out));
        }
        Poll::Pending
    })
    .await
}
