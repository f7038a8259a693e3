import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
@testable import HearthServer
import HearthServerTestKit
import NIOCore
import Testing

/// The IDE's modules are served with validators and `no-cache`, so a browser asks each time and
/// an upgrade never leaves it running a cached module next to a new one (issue 15, item 6).
@Suite(.timeLimit(.minutes(2))) struct WebAssetsTests {
    @Test func anUnchangedFileIsA304AndAChangedOneHasANewETag() throws {
        let dir = ProcessHost.scratchDirectory("webassets")
        try FileManager.default.createDirectory(atPath: dir + "/core", withIntermediateDirectories: true)
        let path = dir + "/core/api.js"
        try Data("export const version = 1;\n".utf8).write(to: URL(fileURLWithPath: path))

        let first = try WebAssets.file(path, installed: true)
        let tag = try #require(first.headers[.eTag])
        #expect(first.status == .ok)
        #expect(first.headers[.cacheControl] == "no-cache")
        #expect(first.headers[.contentType] == "text/javascript; charset=utf-8")

        let again = try WebAssets.file(path, installed: true, request: [.ifNoneMatch: tag])
        #expect(again.status == .notModified)
        #expect(again.headers[.eTag] == tag)
        #expect(try WebAssets.file(path, installed: true, request: [.ifNoneMatch: "\"other\", W/\(tag)"]).status == .notModified)

        // Same length, one byte different: a new tag, and the old one no longer matches.
        try Data("export const version = 2;\n".utf8).write(to: URL(fileURLWithPath: path))
        let upgraded = try WebAssets.file(path, installed: true, request: [.ifNoneMatch: tag])
        #expect(upgraded.status == .ok)
        #expect(upgraded.headers[.eTag] != nil && upgraded.headers[.eTag] != tag)
    }

    @Test func hostileIfNoneMatchHeadersNeverMatchByAccident() {
        let tag = WebAssets.entityTag(Array("x".utf8))
        #expect(!WebAssets.matches(ifNoneMatch: nil, tag))
        #expect(!WebAssets.matches(ifNoneMatch: "", tag))
        #expect(!WebAssets.matches(ifNoneMatch: String(repeating: ",", count: 100_000) + tag, tag), "an oversized header is ignored")
        #expect(!WebAssets.matches(ifNoneMatch: String(tag.dropLast()), tag))
        #expect(WebAssets.matches(ifNoneMatch: "*", tag))
        var random = SplitMix64(state: 0xE7A6)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 32...126, using: &random) }
            let header = String(decoding: bytes, as: UTF8.self)
            if !header.contains("*") { #expect(!WebAssets.matches(ifNoneMatch: header, tag), "\(header)") }
        }
    }

    /// Over HTTP, against a real server: the module the page loads first answers 304 to its own tag.
    @Test func theServerAnswersModulesWithValidators() async throws {
        let live = try await LiveServer.scratch("webassets")
        // marked and DOMPurify are Debian's (scripts/setup.sh installs node-marked and node-dompurify).
        for path in ["/static/app.js", "/static/core/api.js", "/static/panels/terminals.js", "/vendor/xterm-bundle.js",
                     "/vendor/marked/marked.esm.js", "/vendor/dompurify/purify.es.js", "/static/core/markdown.js"] {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: live.url + path), timeout: .seconds(30))
            #expect(response.status == .ok, "\(path)")
            #expect(response.headers.first(name: "Cache-Control") == "no-cache", "\(path)")
            let tag = try #require(response.headers.first(name: "ETag"), "\(path)")
            _ = try await response.body.collect(upTo: 4 << 20)
            var again = HTTPClientRequest(url: live.url + path)
            again.headers.add(name: "If-None-Match", value: tag)
            let cached = try await HTTPClient.shared.execute(again, timeout: .seconds(30))
            #expect(cached.status == .notModified, "\(path)")
            #expect(try await cached.body.collect(upTo: 1024).readableBytes == 0)
        }
        await live.stop()
    }
}
