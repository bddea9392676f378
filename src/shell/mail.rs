//! The `send_email` binding and `fetch` behind the core's [`Notifier`]. What to send, to whom, and what
//! counts as a failure are decided in `notify`; this only performs it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, EmailMessage, Env, Fetch, Headers, Method, Request, RequestInit,
    SendEmail,
};

use crate::notify::{Notifier, SendError};
use crate::outbound::OutboundRequest;

/// The `[[send_email]]` binding named in `wrangler.toml`.
pub const EMAIL_BINDING: &str = "EMAIL";

/// An API or webhook that has not answered by then counts as failed and is retried on a later run; a
/// cron run has 15 minutes of wall time, but one stuck endpoint must not hold up the others.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WorkerNotifier {
    email: Option<SendEmail>,
}

impl WorkerNotifier {
    pub fn bind(env: &Env) -> WorkerNotifier {
        WorkerNotifier {
            email: env.send_email(EMAIL_BINDING).ok(),
        }
    }

    /// Whether the `send_email` binding exists, for [`crate::notify::AlertSettings::from_config`].
    pub fn has_email_binding(&self) -> bool {
        self.email.is_some()
    }
}

fn failure(what: &str, err: impl Into<worker::Error>) -> SendError {
    SendError(format!("{what}: {}", err.into()))
}

impl Notifier for WorkerNotifier {
    async fn send_email(
        &self,
        envelope_from: &str,
        to: &str,
        raw_mime: &str,
    ) -> Result<(), SendError> {
        let binding = self
            .email
            .as_ref()
            .ok_or_else(|| SendError(format!("no [[send_email]] binding {EMAIL_BINDING}")))?;
        let message = EmailMessage::new(envelope_from, to, raw_mime)
            .map_err(|e| failure("invalid message", e))?;
        // The binding's errors carry codes (E_RECIPIENT_SUPPRESSED, RCPT_NOT_ALLOWED, …) that
        // `worker::Error` names; all of them are retried, as a misconfiguration fixed later should deliver.
        binding
            .send(&message)
            .await
            .map(|_| ())
            .map_err(|e| failure("send_email", e))
    }

    async fn fetch(&self, request: &OutboundRequest) -> Result<u16, SendError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers
                .set(name, value)
                .map_err(|e| failure("invalid header", e))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.to_owned()))
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&request.body)));
        let outbound = Request::new_with_init(&request.url, &init)
            .map_err(|e| failure("invalid request", e))?;
        let controller = AbortController::default();
        let fetch = Fetch::Request(outbound);
        match first_of(
            fetch.send_with_signal(&controller.signal()),
            Delay::from(FETCH_TIMEOUT),
        )
        .await
        {
            Ok(Ok(response)) => Ok(response.status_code()),
            Ok(Err(err)) => Err(failure("fetch", err)),
            Err(()) => {
                controller.abort();
                Err(SendError(format!(
                    "no answer within {} s",
                    FETCH_TIMEOUT.as_secs()
                )))
            }
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
