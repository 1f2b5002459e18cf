//! `/wasmgate/mcp`: the sandboxed tools to MCP clients over streamable HTTP (see
//! `crate::mcp::server`), behind the same authentication as every other
//! route. Each call runs under the grant of whoever its own request
//! authenticated as: a tenant's token reaches that tenant's folders only
//! (the one `directory` or `x-opencode-directory` names, else its first),
//! with its quotas, whatever MCP session the request claims to belong to.
//! The server keeps no MCP sessions: every request stands alone.

use super::auth::Caller;
use crate::app::App;
use crate::mcp::server::{Grants, ToolServer};
use axum::http::request::Parts;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Where the MCP endpoint is served.
pub const PATH: &str = "/wasmgate/mcp";

/// The MCP endpoint over `app`'s sandbox.
pub(super) fn service(app: &Arc<App>) -> StreamableHttpService<ToolServer, NeverSessionManager> {
    let grants: Grants = Arc::new(|extensions| {
        let parts = extensions.get::<Parts>().ok_or("a request without its HTTP parts")?;
        let Caller(tenant) = parts.extensions.get::<Caller>().ok_or("a request that did not authenticate")?;
        let workspaces = tenant.workspaces().map_err(|e| e.to_string())?;
        let workspace = match super::extract::requested_directory(parts) {
            Some(directory) => workspaces.resolve(&directory).map_err(|e| e.to_string())?,
            None => workspaces.default(),
        };
        Ok(workspace.grant.clone())
    });
    let server = ToolServer::new(app.sandbox.clone(), grants);
    // Hosts are checked by the API's authentication, as for every route.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    StreamableHttpService::new(move || Ok(server.clone()), Arc::new(NeverSessionManager::default()), config)
}
