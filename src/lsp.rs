//! `casepol lsp`: the language server, over standard input and output (docs/lsp.md).
//!
//! An edge like the command line and the server: it reads the `.casepol` files beside an open
//! document and uses the library's phases through `casepol::internal`. The loop is single
//! threaded and synchronous: each change re-checks the document's policy at once and publishes
//! its diagnostics, and every request is answered from the last analysis (`lsp/analysis.rs`).
//! `lsp/index.rs` lists the names of a policy, `lsp/features.rs` answers the requests,
//! `lsp/position.rs` maps byte offsets to UTF-16 positions, `lsp/transport.rs` reads and writes
//! bounded messages.
//!
//! A policy is the folder of the open document: every `.casepol` file in it (not below it),
//! with the text of open documents in place of what is on disk. When two files of the folder
//! declare the same name, the folder is a set of separate policies (a folder of examples), and
//! each open document is checked alone.

mod analysis;
mod features;
mod index;
mod position;
mod transport;

use analysis::{Analysis, Workspace};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{self as lt, notification as ln, request as lr};
use serde_json::Value;
use std::process::ExitCode;
use std::rc::Rc;

/// Runs the server until the client says `exit` or closes the input.
pub(crate) fn lsp() -> ExitCode {
    let (connection, writer) = transport::stdio();
    let code = match run(&connection) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("casepol lsp: {why}");
            ExitCode::from(1)
        }
    };
    drop(connection);
    let _ = writer.join();
    code
}

fn run(connection: &Connection) -> Result<(), String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let params: lt::InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let single_file = params
        .initialization_options
        .as_ref()
        .and_then(|o| o.get("singleFile"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let result = serde_json::json!({
        "capabilities": features::capabilities(),
        "serverInfo": { "name": "casepol", "version": env!("CARGO_PKG_VERSION") },
    });
    connection
        .initialize_finish(id, result)
        .map_err(|e| e.to_string())?;
    let mut server = Server {
        connection,
        workspace: Workspace::new(single_file),
        shutting_down: false,
    };
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if req.method == lr::Shutdown::METHOD {
                    server.shutting_down = true;
                    server.send(Response::new_ok(req.id, ()).into());
                    continue;
                }
                if server.shutting_down {
                    server.error(
                        req.id,
                        ErrorCode::InvalidRequest,
                        "the server is shutting down",
                    );
                    continue;
                }
                server.request(req);
            }
            Message::Notification(n) => {
                if n.method == ln::Exit::METHOD {
                    return if server.shutting_down {
                        Ok(())
                    } else {
                        Err("exit without shutdown".into())
                    };
                }
                server.notification(n);
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Server<'a> {
    connection: &'a Connection,
    workspace: Workspace,
    shutting_down: bool,
}

/// A request's answer: a result, or an error code and message.
type Answer = Result<Value, (ErrorCode, String)>;

impl Server<'_> {
    fn send(&self, msg: Message) {
        let _ = self.connection.sender.send(msg);
    }

    fn error(&self, id: RequestId, code: ErrorCode, message: &str) {
        self.send(Response::new_err(id, code as i32, message.to_string()).into());
    }

    fn request(&mut self, req: Request) {
        let id = req.id.clone();
        let answer = self.answer(req);
        let response = match answer {
            Ok(v) => Response {
                id,
                result: Some(v),
                error: None,
            },
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        self.send(response.into());
    }

    fn answer(&mut self, req: Request) -> Answer {
        let method = req.method.as_str();
        match method {
            lr::HoverRequest::METHOD => {
                let p: lt::HoverParams = params(req.params)?;
                let at = &p.text_document_position_params;
                self.with(&at.text_document.uri, |a, f| {
                    to_value(features::hover(a, f, at.position))
                })
            }
            lr::GotoDefinition::METHOD => {
                let p: lt::GotoDefinitionParams = params(req.params)?;
                let at = &p.text_document_position_params;
                self.with(&at.text_document.uri, |a, f| {
                    to_value(features::definition(a, f, at.position))
                })
            }
            lr::References::METHOD => {
                let p: lt::ReferenceParams = params(req.params)?;
                let at = &p.text_document_position;
                let decl = p.context.include_declaration;
                self.with(&at.text_document.uri, |a, f| {
                    to_value(features::references(a, f, at.position, decl))
                })
            }
            lr::PrepareRenameRequest::METHOD => {
                let p: lt::TextDocumentPositionParams = params(req.params)?;
                self.with(&p.text_document.uri, |a, f| {
                    features::prepare_rename(a, f, p.position).and_then(to_value)
                })
            }
            lr::Rename::METHOD => {
                let p: lt::RenameParams = params(req.params)?;
                let at = &p.text_document_position;
                self.with(&at.text_document.uri, |a, f| {
                    features::rename(a, f, at.position, &p.new_name).and_then(to_value)
                })
            }
            lr::DocumentSymbolRequest::METHOD => {
                let p: lt::DocumentSymbolParams = params(req.params)?;
                self.with(&p.text_document.uri, |a, f| {
                    to_value(features::symbols(a, f))
                })
            }
            lr::Completion::METHOD => {
                let p: lt::CompletionParams = params(req.params)?;
                let at = &p.text_document_position;
                self.with(&at.text_document.uri, |a, f| {
                    to_value(features::completion(a, f, at.position))
                })
            }
            lr::Formatting::METHOD => {
                let p: lt::DocumentFormattingParams = params(req.params)?;
                self.with(&p.text_document.uri, |a, f| {
                    features::formatting(a, f).and_then(to_value)
                })
            }
            lr::SemanticTokensFullRequest::METHOD => {
                let p: lt::SemanticTokensParams = params(req.params)?;
                self.with(&p.text_document.uri, |a, f| {
                    to_value(features::semantic_tokens(a, f))
                })
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("casepol lsp does not answer `{}`", req.method),
            )),
        }
    }

    /// Answers from the analysis of the policy `uri` belongs to; `f` is the document's file in
    /// it. A document that is not open has no analysis: the answer is an error.
    fn with(
        &mut self,
        uri: &lt::Uri,
        answer: impl FnOnce(&Analysis, analysis::File) -> Answer,
    ) -> Answer {
        let Some(a) = self.workspace.analysis(uri.as_str()) else {
            return Err((
                ErrorCode::InvalidParams,
                format!("`{}` is not an open document", uri.as_str()),
            ));
        };
        match a.file(uri.as_str()) {
            Some(f) => answer(&a, f),
            None => Err((
                ErrorCode::InvalidParams,
                format!("`{}` is not an open document", uri.as_str()),
            )),
        }
    }

    fn notification(&mut self, n: Notification) {
        let uri = match n.method.as_str() {
            ln::DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidOpenTextDocumentParams>(n.params)
                else {
                    return;
                };
                let uri = p.text_document.uri.as_str().to_string();
                self.workspace.open(&uri, p.text_document.text);
                uri
            }
            ln::DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidChangeTextDocumentParams>(n.params)
                else {
                    return;
                };
                let uri = p.text_document.uri.as_str().to_string();
                // Full synchronisation: the last change holds the whole text.
                let Some(change) = p.content_changes.into_iter().last() else {
                    return;
                };
                if change.range.is_some() {
                    return;
                }
                self.workspace.open(&uri, change.text);
                uri
            }
            ln::DidSaveTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidSaveTextDocumentParams>(n.params)
                else {
                    return;
                };
                let uri = p.text_document.uri.as_str().to_string();
                self.workspace.changed(&uri);
                uri
            }
            ln::DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidCloseTextDocumentParams>(n.params)
                else {
                    return;
                };
                let uri = p.text_document.uri.as_str().to_string();
                let (cleared, other) = self.workspace.close(&uri);
                for u in cleared {
                    self.publish(&u, Vec::new());
                }
                match other {
                    Some(other) => other,
                    None => return,
                }
            }
            _ => return,
        };
        self.publish_unit(&uri);
    }

    /// Publishes the diagnostics of every file of the policy `uri` belongs to.
    fn publish_unit(&mut self, uri: &str) {
        let Some(a) = self.workspace.analysis(uri) else {
            return;
        };
        let units = self.workspace.analyses_near(uri);
        let mut done = std::collections::BTreeSet::new();
        for a in std::iter::once(a).chain(units) {
            for (u, diags) in features::diagnostics(&a) {
                if done.insert(u.clone()) {
                    self.publish(&u, diags);
                }
            }
        }
        for u in self.workspace.take_stale(&done) {
            self.publish(&u, Vec::new());
        }
    }

    fn publish(&self, uri: &str, diagnostics: Vec<lt::Diagnostic>) {
        let Ok(uri) = uri.parse::<lt::Uri>() else {
            return;
        };
        let p = lt::PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        };
        self.send(Notification::new(ln::PublishDiagnostics::METHOD.into(), p).into());
    }
}

fn params<P: serde::de::DeserializeOwned>(v: Value) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_value<T: serde::Serialize>(v: T) -> Answer {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

/// The analysis shared by the documents of one policy.
pub(crate) type Shared = Rc<Analysis>;
