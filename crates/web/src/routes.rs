//! Pages and fragments (`GET`), assets, the event stream and actions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;
use crate::pages::{self, Panel};
use crate::state::{Dashboard, Shared};

fn town_name(dash: &Dashboard) -> String {
    dash.town
        .config()
        .map(|c| c.name)
        .unwrap_or_else(|_| dash.town.root().display().to_string())
}

/// `GET /`: every panel, rendered under one hold of the store.
pub async fn overview(State(shared): State<Shared>) -> Result<Html<String>, Error> {
    shared
        .read(|dash, store| {
            let mut body = String::from("<main>");
            for panel in Panel::ALL {
                body.push_str(&panel.section(dash, store)?);
            }
            body.push_str("</main>");
            Ok(Html(pages::layout(&town_name(dash), "overview", &body)))
        })
        .await
}

/// `GET /panel/{name}`: one panel's fragment.
pub async fn panel(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(panel) = Panel::from_name(&name) else {
        return (StatusCode::NOT_FOUND, "no such panel").into_response();
    };
    shared
        .read(move |dash, store| Ok(Html(panel.render(dash, store)?)))
        .await
        .into_response()
}

/// `GET /bead/{id}`: a bead and its history.
pub async fn bead(State(shared): State<Shared>, Path(id): Path<String>) -> Result<Response, Error> {
    shared
        .read(move |dash, store| {
            let (id, body) = pages::bead_page(store, &id)?;
            Ok(Html(pages::layout(&town_name(dash), &id, &body)).into_response())
        })
        .await
}

/// `GET /bead/{id}/history`: the history panel's fragment.
pub async fn bead_history(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Html<String>, Error> {
    shared
        .read(move |_, store| Ok(Html(pages::bead_history(store, &id)?)))
        .await
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    crate::assets::serve(&name)
}
