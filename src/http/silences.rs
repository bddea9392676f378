//! `GET`/`POST /api/silences` and `DELETE /api/silences/{id}`: the silences ([`crate::silence`]) kept by
//! shard 0 of the counting objects. A body is checked here, at the edge; the object only stores it. Each
//! request is one Durable Object request: a list reads one row, a change reads and writes one.

use crate::counting::detection::{SilenceAnswer, SilenceChange};
use crate::counting::{call, Counter, Request};
use crate::error::AppError;
use crate::silence::NewSilence;
use crate::store::Store;

use super::{Context, HttpRequest, HttpResponse, Method};

/// The routes that need `ADMIN_TOKEN` instead of `READ_TOKEN`.
pub fn is_write(method: Method, segments: &[&str]) -> bool {
    matches!((method, segments), (Method::Post, ["api", "silences"]) | (Method::Delete, ["api", "silences", _]))
}

/// Longest id the object makes (`s` and a `u64`); anything longer names no silence.
const MAX_ID_LEN: usize = 21;

async fn ask<S: Store, C: Counter>(ctx: &Context<'_, S, C>, change: SilenceChange) -> Result<SilenceAnswer, AppError> {
    let answer: SilenceAnswer = call(ctx.counter, 0, &Request::Silences { change }).await?;
    match answer.refused {
        Some((404, message)) => Err(AppError::NotFound(message)),
        Some((409, message)) => Err(AppError::Conflict(message)),
        Some((_, message)) => Err(AppError::BadRequest(message)),
        None => Ok(answer),
    }
}

/// The silence a change answered with.
fn one(answer: SilenceAnswer, status: u16) -> Result<HttpResponse, AppError> {
    let silence = answer.silence.ok_or_else(|| AppError::Internal("the counting object answered no silence".into()))?;
    Ok(HttpResponse::json(status, &silence))
}

/// `GET /api/silences`: the silences in force, oldest first.
pub async fn list<S: Store, C: Counter>(ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let answer = ask(ctx, SilenceChange::List).await?;
    Ok(HttpResponse::json(200, &serde_json::json!({ "silences": answer.silences })))
}

/// `POST /api/silences`: 201 with the silence, its id and creation time filled in.
pub async fn create<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
) -> Result<HttpResponse, AppError> {
    let silence = NewSilence::parse(&req.body, ctx.now)?;
    one(ask(ctx, SilenceChange::Add { silence }).await?, 201)
}

/// `DELETE /api/silences/{id}`: ends the silence now and answers it; 404 when none is active by that id.
pub async fn delete<S: Store, C: Counter>(ctx: &Context<'_, S, C>, id: &str) -> Result<HttpResponse, AppError> {
    let valid = id.len() <= MAX_ID_LEN
        && id.strip_prefix('s').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return Err(AppError::BadRequest(format!("path parameter `id` must be a silence id such as s12, not {id:?}")));
    }
    one(ask(ctx, SilenceChange::Remove { id: id.to_owned() }).await?, 200)
}
