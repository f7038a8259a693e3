import Foundation
import HearthCore
import Hummingbird

/// The web IDE: our own HTML, CSS and JavaScript (the `Web` resources, no build step), and
/// xterm.js, CodeMirror 5, marked and DOMPurify from Debian's packages. Nothing comes
/// from a CDN, and every page forbids loading anything from elsewhere.
enum WebAssets {
    /// Debian's packages: `libjs-xterm`, `libjs-codemirror`, and for the Agents view's Markdown
    /// `node-marked` (its ES module) and `node-dompurify` (which sanitises what marked makes).
    static let vendorRoots = ["xterm": "/usr/share/javascript/xterm", "codemirror": "/usr/share/javascript/codemirror",
                              "marked": "/usr/share/nodejs/marked/lib", "dompurify": "/usr/share/nodejs/dompurify/dist"]

    /// `configured` (the CLI passes `$HEARTH_WEB_DIR`), else the resources SwiftPM copies next to
    /// the executable. The library reads no environment itself.
    static func directory(configured: String?) -> String? {
        var candidates: [String] = []
        if let configured, !configured.isEmpty { candidates.append(configured) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        candidates.append(executable + "/hearth_HearthServer.resources/Web")
        candidates.append(executable + "/hearth_HearthServer.resources")
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix("hearth_HearthServer.resources") }) {
            candidates.append(bundle.bundlePath + "/Web")
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "same-origin",
    ]

    static func register(on router: Router<HearthContext>, configuredDirectory: String?) {
        let directory = directory(configured: configuredDirectory)
        let installed = directory != nil
        router.get("/") { request, _ in try file(directory.map { $0 + "/index.html" }, installed: installed, request: request.headers) }
        router.get("/static/**") { request, _ in
            try file(directory.flatMap { safeJoin($0, String(request.uri.path.dropFirst("/static/".count))) }, installed: installed, request: request.headers)
        }
        router.get("/vendor/xterm-bundle.js") { request, _ in
            guard let script = XtermBundle.script else {
                throw HearthError(.notFound, "xterm.js is not installed (Debian package node-xterm)")
            }
            return validated(Array(script.utf8), contentType: "text/javascript; charset=utf-8", request: request.headers)
        }
        router.get("/vendor/:package/**") { request, context in
            let package = try context.parameters.require("package")
            guard let root = vendorRoots[package] else { throw HearthError(.notFound, "no such file") }
            return try file(safeJoin(root, String(request.uri.path.dropFirst("/vendor/\(package)/".count))), installed: installed, request: request.headers)
        }
    }

    static func safeJoin(_ root: String, _ relative: String) -> String? {
        let parts = relative.split(separator: "/")
        guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." || $0.hasPrefix(".") }) else { return nil }
        return root + "/" + parts.joined(separator: "/")
    }

    /// `installed`: whether the web IDE's own files were found, for the message when `path` is not.
    static func file(_ path: String?, installed: Bool, request: HTTPFields = [:]) throws -> Response {
        guard let path, let data = FileManager.default.contents(atPath: path) else {
            throw HearthError(.notFound, installed ? "no such file" : "the web IDE's files are not installed")
        }
        return validated(Array(data), contentType: contentType(path), request: request)
    }

    static func contentType(_ path: String) -> String {
        switch (path as NSString).pathExtension {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
