/// The API description served at `/v1/openapi.json`. Kept beside the routes it describes.
enum OpenAPIDocument {
    static let json = """
    {
      "openapi": "3.0.3",
      "info": {"title": "Hearth API", "version": "1.0.0",
               "description": "Workspaces in sandboxes. Errors are {\\"error\\": {\\"code\\", \\"message\\"}}. Authenticate with Authorization: Bearer <token> (hth_…), or, from a browser, the session cookie set by POST /v1/session plus its csrf value in X-CSRF-Token on every request that changes state. Workspaces of another tenant are 404. Viewers get 403 on anything that changes state."},
      "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "session": {"type": "apiKey", "in": "cookie", "name": "hearth_session"}},
        "schemas": {
          "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
          "Workspace": {"type": "object", "required": ["id", "name", "runtime", "image", "state", "cpus", "memory_mib", "created_at", "updated_at"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "runtime": {"type": "string", "enum": ["gvisor", "qemu"]},
              "image": {"type": "string"}, "state": {"type": "string", "enum": ["creating", "starting", "running", "stopping", "stopped", "pausing", "paused", "resuming", "deleting", "failed"]},
              "cpus": {"type": "number"}, "memory_mib": {"type": "integer"}, "disk_mib": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
              "updated_at": {"type": "string", "format": "date-time"}, "failure": {"type": "string"}}},
          "TunnelOpened": {"type": "object", "required": ["connected", "port"], "properties": {"connected": {"type": "boolean"}, "port": {"type": "integer"}}},
          "CreateWorkspace": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
              "image": {"type": "string", "description": "base, sha256:<digest>, or a host path to an OCI image layout"},
              "runtime": {"type": "string", "enum": ["gvisor", "qemu"]}, "cpus": {"type": "number"}, "memory_mib": {"type": "integer"},
              "disk_mib": {"type": "integer", "minimum": 64, "description": "size of the workspace's own disk (qemu only)"}}},
          "Exec": {"type": "object", "required": ["argv"], "properties": {"argv": {"type": "array", "items": {"type": "string"}, "minItems": 1},
              "env": {"type": "object", "additionalProperties": {"type": "string"}}, "cwd": {"type": "string"}, "user": {"type": "string"},
              "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 604800000}, "stdin": {"type": "string"}}},
          "FileEntry": {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["file", "directory", "symlink", "other"]},
              "size": {"type": "integer"}, "mode": {"type": "integer"}, "mtime": {"type": "number"}, "link_target": {"type": "string"}}}
        },
        "parameters": {
          "ws": {"name": "ws", "in": "path", "required": true, "schema": {"type": "string"}, "description": "workspace id or name"},
          "path": {"name": "path", "in": "query", "required": true, "schema": {"type": "string"}, "description": "absolute, or relative to /workspace"}
        },
        "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
      },
      "security": [{"bearer": []}, {"session": []}],
      "paths": {
        "/v1/health": {"get": {"security": [], "summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
        "/v1/runtimes": {"get": {"summary": "Sandbox runtimes on this host and why any is unavailable", "responses": {"200": {"description": "runtimes"}, "401": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces": {
          "get": {"summary": "List workspaces", "responses": {"200": {"description": "workspaces"}, "401": {"$ref": "#/components/responses/Error"}}},
          "post": {"summary": "Create and start a workspace", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateWorkspace"}}}},
                   "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Workspace"}}}},
                                 "400": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}": {"parameters": [{"$ref": "#/components/parameters/ws"}],
          "get": {"summary": "Get a workspace", "responses": {"200": {"description": "workspace"}, "404": {"$ref": "#/components/responses/Error"}}},
          "delete": {"summary": "Delete a workspace and everything it holds", "responses": {"204": {"description": "deleted"}, "404": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/start": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Start a stopped or failed workspace", "responses": {"200": {"description": "workspace"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/stop": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Stop: SIGTERM, then SIGKILL after the grace period", "responses": {"200": {"description": "workspace"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/pause": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Save memory and disk state and stop", "responses": {"200": {"description": "workspace"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/resume": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Restore a paused workspace", "responses": {"200": {"description": "workspace"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/exec": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Run a command; output is streamed as application/vnd.hearth.exec-stream frames (kind u8: 1 stdout, 2 stderr, 3 exit JSON, 4 started JSON, 5 error JSON; length u32 big-endian; payload)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exec"}}}},
            "responses": {"200": {"description": "stream", "content": {"application/vnd.hearth.exec-stream": {}}}, "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/exec/ws": {"parameters": [{"$ref": "#/components/parameters/ws"}], "get": {"summary": "WebSocket exec: first a text message with Exec (plus optional pty {rows, cols}), then binary exec-stream frames both ways (6 stdin, 7 stdin EOF, 8 resize JSON, 9 signal)", "responses": {"101": {"description": "upgraded"}}}},
        "/v1/workspaces/{ws}/files/list": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"$ref": "#/components/parameters/path"}], "get": {"summary": "List a directory", "responses": {"200": {"description": "entries"}, "404": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/files/stat": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"$ref": "#/components/parameters/path"}], "get": {"summary": "Stat a path", "responses": {"200": {"description": "entry", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FileEntry"}}}}, "404": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/files/content": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"$ref": "#/components/parameters/path"}],
          "get": {"summary": "Download a file (streamed); download=1 adds Content-Disposition: attachment", "responses": {"200": {"description": "bytes", "content": {"application/octet-stream": {}}}, "404": {"$ref": "#/components/responses/Error"}}},
          "put": {"summary": "Upload a file (streamed, atomically replaced)", "parameters": [{"name": "mode", "in": "query", "schema": {"type": "string"}, "description": "octal"},
                  {"name": "if_mtime", "in": "query", "schema": {"type": "number"}, "description": "refuse with 409 if the file's mtime is no longer this (an editor's save)"}],
                  "requestBody": {"content": {"application/octet-stream": {}}}, "responses": {"201": {"description": "written"}, "409": {"$ref": "#/components/responses/Error"}, "507": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/files": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"$ref": "#/components/parameters/path"}], "delete": {"summary": "Remove a path", "parameters": [{"name": "recursive", "in": "query", "schema": {"type": "boolean"}}], "responses": {"204": {"description": "removed"}, "404": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/files/mkdir": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "mkdir -p", "responses": {"201": {"description": "created"}}}},
        "/v1/workspaces/{ws}/files/move": {"parameters": [{"$ref": "#/components/parameters/ws"}], "post": {"summary": "Move or rename", "responses": {"204": {"description": "moved"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/ports": {"parameters": [{"$ref": "#/components/parameters/ws"}], "get": {"summary": "Listening TCP ports inside the workspace", "responses": {"200": {"description": "ports"}}}},
        "/v1/workspaces/{ws}/ports/events": {"parameters": [{"$ref": "#/components/parameters/ws"}], "get": {"summary": "Server-Sent Events: an event ports (data: the port list as JSON,, or an object with unavailable and a message while the agent cannot say) at once and each time the set changes; keepalive comments; the stream ends after 10 minutes and EventSource reconnects", "responses": {"200": {"description": "text/event-stream"}, "429": {"$ref": "#/components/responses/Error"}}}},
        "/v1/workspaces/{ws}/ports/{port}/tunnel": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"name": "port", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 65535}}],
          "get": {"summary": "WebSocket: one TCP connection to a port on the workspace's loopback. The client first sends a text message (open); the server answers with a text message, TunnelOpened (connected, port) or an Error; then binary messages carry the bytes both ways, an empty one from the client half-closes.", "responses": {"101": {"description": "switching protocols"}}}},
        "/v1/workspaces/{ws}/ws": {"parameters": [{"$ref": "#/components/parameters/ws"}], "get": {"summary": "WebSocket carrying all of a workspace's terminals (the web IDE). The client speaks first. Client text JSON: {type: list | open (cols, rows) | attach (id) | input (id, data) | resize (id, cols, rows) | ack (id, bytes) | close (id)}. Server text JSON: terminals, opened, attached, exit, error, workspace (state: each state the workspace enters while the socket is open); binary: terminal id u32 big-endian, then output. The server stops reading a terminal while a client has more than 512 KiB unacknowledged; terminals outlive the connection and replay up to 256 KiB of scrollback on attach. Cookie sessions must send their own Origin.", "responses": {"101": {"description": "switching protocols"}}}},
        "/w/{ws}/p/{port}/": {"parameters": [{"$ref": "#/components/parameters/ws"}, {"name": "port", "in": "path", "required": true, "schema": {"type": "integer"}}],
          "get": {"summary": "Preview: opened with the session or a token, answers 302 to /w/{ws}/p/{port}/~{grant}/ (a capability for 12 hours); below that, any method and any path (and WebSocket upgrades) reach the web server on this port inside the workspace over the agent's tunnel. The session cookie, Hearth tokens and X-Forwarded-* are not passed on; answers carry CSP sandbox and CORS *.", "responses": {"302": {"description": "to the grant URL"}, "200": {"description": "the guest server's answer"}, "502": {"$ref": "#/components/responses/Error"}}}},
        "/v1/session": {
          "post": {"security": [], "summary": "Sign in with email and password; sets the session cookie (HttpOnly, SameSite=Strict; __Host- and Secure behind TLS) and returns the CSRF token. Repeated failures answer 429.",
                   "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}}}},
                   "responses": {"200": {"description": "session"}, "401": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}},
          "get": {"summary": "Who the credential belongs to (and a session's CSRF token)", "responses": {"200": {"description": "session"}}},
          "delete": {"summary": "Sign out", "responses": {"204": {"description": "signed out"}}}},
        "/v1/tenants/{tenant}/quota": {"parameters": [{"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}}], "get": {"summary": "A tenant's quota and use (the operator, or the tenant's admins)", "responses": {"200": {"description": "quota"}, "404": {"$ref": "#/components/responses/Error"}}}, "put": {"summary": "Set a tenant's quota (the operator); null is unlimited. Creates and starts past it answer 403 quota_exceeded", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"workspaces": {"type": "integer", "minimum": 0}, "cpus": {"type": "number", "minimum": 0}, "memory_mib": {"type": "integer", "minimum": 0}, "disk_mib": {"type": "integer", "minimum": 0}}}}}}, "responses": {"200": {"description": "quota"}, "403": {"$ref": "#/components/responses/Error"}}}},
        "/v1/images": {"get": {"summary": "Images the caller's tenant may use (sha256 digests)", "responses": {"200": {"description": "images"}}}, "post": {"summary": "The operator imports oci:NAME from the import directory and shares it with a tenant or every tenant", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["source"], "properties": {"source": {"type": "string"}, "tenant": {"type": "string"}, "public": {"type": "boolean"}}}}}}, "responses": {"201": {"description": "image"}, "403": {"$ref": "#/components/responses/Error"}}}},
        "/v1/tenants": {"post": {"summary": "Create a tenant (admins of the default tenant)", "responses": {"201": {"description": "tenant"}, "403": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/v1/users": {"post": {"summary": "Create a user (tenant admins; another tenant: admins of the default tenant)", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["email", "role", "password"], "properties": {"email": {"type": "string"}, "tenant": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "member", "viewer"]}, "password": {"type": "string", "minLength": 8}}}}}}, "responses": {"201": {"description": "user"}, "403": {"$ref": "#/components/responses/Error"}}}},
        "/v1/tokens": {
          "post": {"summary": "Create an API token (shown once); role at most the user's; expires_in seconds", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "tenant": {"type": "string"}, "user": {"type": "string"}, "role": {"type": "string"}, "expires_in": {"type": "integer"}}}}}}, "responses": {"201": {"description": "token with its secret"}, "403": {"$ref": "#/components/responses/Error"}}},
          "get": {"summary": "Your tokens (admins: the tenant's), without secrets", "responses": {"200": {"description": "tokens"}}}},
        "/v1/tokens/{id}": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "delete": {"summary": "Revoke a token", "responses": {"200": {"description": "revoked"}, "404": {"$ref": "#/components/responses/Error"}}}},
        "/v1/audit": {"get": {"summary": "Audit events as JSON lines, oldest first (admins; the default tenant's admins see every tenant)", "parameters": [{"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}}], "responses": {"200": {"description": "events", "content": {"application/x-ndjson": {}}}}}},
        "/v1/audit/verify": {"get": {"summary": "Check the audit log's hash chain and head; lists every break", "responses": {"200": {"description": "verdict"}}}}
      }
    }
    """
}
