import Foundation
import HearthCore
import Hummingbird

/// The web IDE: our own HTML, CSS and JavaScript (the `Web` resources, no build step), and
/// xterm.js and CodeMirror 5 from Debian's `libjs-xterm` and `libjs-codemirror`. Nothing comes
/// from a CDN, and every page forbids loading anything from elsewhere.
enum WebAssets {
    static let vendorRoots = ["xterm": "/usr/share/javascript/xterm", "codemirror": "/usr/share/javascript/codemirror"]

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
        router.get("/") { _, _ in try file(directory.map { $0 + "/index.html" }, installed: directory != nil) }
        router.get("/static/**") { request, _ in
            try file(directory.flatMap { safeJoin($0, String(request.uri.path.dropFirst("/static/".count))) }, installed: directory != nil)
        }
        router.get("/vendor/xterm-bundle.js") { _, _ in
            guard let script = XtermBundle.script else {
                throw HearthError(.notFound, "xterm.js is not installed (Debian package node-xterm)")
            }
            var headers = securityHeaders
            headers[.contentType] = "text/javascript; charset=utf-8"
            headers[.cacheControl] = "max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: script)))
        }
        router.get("/vendor/:package/**") { request, context in
            let package = try context.parameters.require("package")
            guard let root = vendorRoots[package] else { throw HearthError(.notFound, "no such file") }
            return try file(safeJoin(root, String(request.uri.path.dropFirst("/vendor/\(package)/".count))), installed: directory != nil)
        }
    }

    static func safeJoin(_ root: String, _ relative: String) -> String? {
        let parts = relative.split(separator: "/")
        guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." || $0.hasPrefix(".") }) else { return nil }
        return root + "/" + parts.joined(separator: "/")
    }

    /// `installed`: whether the web IDE's own files were found, for the message when `path` is not.
    static func file(_ path: String?, installed: Bool) throws -> Response {
        guard let path, let data = FileManager.default.contents(atPath: path) else {
            throw HearthError(.notFound, installed ? "no such file" : "the web IDE's files are not installed")
        }
        var headers = securityHeaders
        headers[.contentType] = contentType(path)
        headers[.cacheControl] = path.hasSuffix(".html") ? "no-store" : "max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
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
