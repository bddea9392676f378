//! Outbound HTTP with a time limit, shared by the alert channels and the MX look-ups (counting Worker) and
//! the SNS certificate fetch (front Worker), and the core's [`DohGet`] on top of it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use worker::{AbortController, Delay, Fetch, Request, Response};
#[cfg(feature = "counting")]
use worker::{Headers, RequestInit};

#[cfg(feature = "counting")]
use crate::esp::FetchError;
#[cfg(feature = "counting")]
use crate::provider::{doh::DOH_TIMEOUT_SECS, DohGet};

/// An endpoint that has not answered by then counts as failed: a webhook must answer its ESP quickly, and a
/// cron run must not be held up by one stuck endpoint.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request`, giving up (and aborting it) after [`FETCH_TIMEOUT`].
pub async fn send_with_timeout(request: Request) -> Result<Response, String> {
    send_within(request, FETCH_TIMEOUT).await
}

/// Sends `request`, giving up (and aborting it) after `timeout`.
async fn send_within(request: Request, timeout: Duration) -> Result<Response, String> {
    let controller = AbortController::default();
    let fetch = Fetch::Request(request);
    match first_of(fetch.send_with_signal(&controller.signal()), Delay::from(timeout)).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(err)) => Err(format!("fetch: {err}")),
        Err(()) => {
            controller.abort();
            Err(format!("no answer within {} s", timeout.as_secs()))
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

/// The MX look-ups' GET: `accept` sent, [`DOH_TIMEOUT_SECS`] for the whole answer, the body read chunk by
/// chunk and dropped once it passes `max_bytes`, so a huge or endless answer costs neither memory nor
/// the run.
#[cfg(feature = "counting")]
pub struct WorkerDohGet;

#[cfg(feature = "counting")]
impl DohGet for WorkerDohGet {
    async fn get(&self, url: &str, accept: &str, max_bytes: usize) -> Result<String, FetchError> {
        let failed = |e: worker::Error| FetchError(format!("{e}"));
        let headers = Headers::new();
        headers.set("accept", accept).map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Get).with_headers(headers);
        let request = Request::new_with_init(url, &init).map_err(failed)?;
        let timeout = Duration::from_secs(DOH_TIMEOUT_SECS);
        let read = async {
            let mut response = send_within(request, timeout).await.map_err(FetchError)?;
            let status = response.status_code();
            if !(200..300).contains(&status) {
                return Err(FetchError(format!("the DoH server answered {status}")));
            }
            read_bounded(&mut response, max_bytes).await
        };
        // The answer's body is bounded in time too: a server that sends its headers and then trickles.
        match first_of(read, Delay::from(timeout)).await {
            Ok(body) => body,
            Err(()) => Err(FetchError(format!("no whole answer within {} s", timeout.as_secs()))),
        }
    }
}

#[cfg(feature = "counting")]
async fn read_bounded(response: &mut Response, max_bytes: usize) -> Result<String, FetchError> {
    use futures_util::StreamExt;
    let mut stream = response.stream().map_err(|e| FetchError(format!("{e}")))?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| FetchError(format!("{e}")))?);
        if body.len() > max_bytes {
            return Err(FetchError(format!("the DoH answer is over {max_bytes} bytes")));
        }
    }
    String::from_utf8(body).map_err(|_| FetchError("the DoH answer is not UTF-8".into()))
}
