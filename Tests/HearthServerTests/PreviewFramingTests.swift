import Foundation
import HearthControlPlane
import HearthCore
import HearthRuntime
import HearthWire
import Testing
@testable import HearthServer

/// What the preview proxy and `files/content` send is framed by Hearth, never by the guest; the
/// guest's cookies stay in its preview; the guest's WebSocket frames are bounded and decoded in
/// linear time. These run without a sandbox: the parsers and the relay are pure.
@Suite struct PreviewFramingTests {
    /// The guest's bytes as a tunnel hands them on: data chunks, ending at the guest's end of stream.
    static func events(_ items: [StreamEvent]) -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            for item in items {
                if case .data(_, let bytes) = item { continuation.yield(bytes) }
                if case .eof = item { break }
            }
            continuation.finish()
        }
    }

    static func relayed(first: [UInt8] = [], _ items: [StreamEvent], length: Int?) async throws -> [UInt8] {
        var out: [UInt8] = []
        _ = try await BoundedRelay.relay(first: first, events(items), length: length) { out += $0 }
        return out
    }

    // MARK: Framing (#4)

    @Test func aGuestsContentLengthIsSentExactlyAndItsExtraBytesAreDropped() async throws {
        let head = try PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html",
                                                 cookiePath: "/w/a/p/80/", isHead: false)
        #expect(head.framing == .length(5))
        #expect(head.fields[.contentLength] == nil, "the guest's Content-Length is not forwarded; Hearth sets its own")
        let smuggled = Array("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED".utf8)
        #expect(try await Self.relayed(first: Array("hel".utf8), [.data(.bytes, Array("lo".utf8) + smuggled), .eof(.bytes)], length: 5)
                == Array("hello".utf8))
        #expect(try await Self.relayed(first: Array("hello".utf8) + smuggled, [], length: 5) == Array("hello".utf8))
    }

    @Test func aBodyShorterThanItsLengthFailsTheResponse() async throws {
        await #expect(throws: BoundedRelay.ShortBody.self) {
            _ = try await Self.relayed([.data(.bytes, Array("hi".utf8)), .eof(.bytes)], length: 10)
        }
        await #expect(throws: BoundedRelay.ShortBody.self) { _ = try await Self.relayed([.data(.bytes, Array("hi".utf8))], length: 10) }
    }

    @Test func withoutALengthTheBodyIsFramedByHearth() async throws {
        let head = try PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nX-App: 1", cookiePath: "/", isHead: false)
        #expect(head.framing == .untilClose)
        #expect(try await Self.relayed(first: [1], [.data(.bytes, [2, 3]), .data(.bytes, []), .eof(.bytes)], length: nil) == [1, 2, 3])
    }

    /// A stalled client holds what the relay last wrote and one write more, so no write is larger
    /// than `writeSlice`, whatever the agent's frames are.
    @Test func largeGuestFramesAreWrittenInBoundedSlices() async throws {
        let frame = (0..<(240 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for length in [nil, 300 * 1024] as [Int?] {
            var writes: [Int] = []
            var out: [UInt8] = []
            let sent = try await BoundedRelay.relay(Self.events([.data(.stdout, frame), .data(.stdout, frame)]), length: length) {
                writes.append($0.count)
                out += $0
            }
            #expect(writes.allSatisfy { $0 > 0 && $0 <= BoundedRelay.writeSlice })
            #expect(sent == out.count)
            #expect(out == Array((frame + frame).prefix(length ?? Int.max)))
        }
    }

    @Test func framingTricksAreRefused() throws {
        let refused = [
            "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nContent-Length: 6",
            "HTTP/1.0 200 OK\r\nContent-Length: 5, 6",
            "HTTP/1.0 200 OK\r\nContent-Length: -1",
            "HTTP/1.0 200 OK\r\nContent-Length: +5",
            "HTTP/1.0 200 OK\r\nContent-Length: 18446744073709551615",
            "HTTP/1.0 200 OK\r\nContent-Length: 0x10",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked",
            "HTTP/1.0 200 OK\r\ntransfer-encoding : gzip",
            "HTTP/1.1 100 Continue",
            "HTTP/1.1 101 Switching Protocols",
            "HTTP/1.1 +200 OK",
            "HTTP/1.1 2000 OK",
            "SMTP 200 OK",
        ]
        for head in refused {
            #expect(throws: HearthError.self, "\(head)") { try PreviewResponseHead.parse(head, cookiePath: "/", isHead: false) }
        }
        #expect(try PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nContent-Length: 5, 5", cookiePath: "/", isHead: false).framing == .length(5))
        #expect(try PreviewResponseHead.parse("HTTP/1.0 204 No Content\r\nContent-Length: 5", cookiePath: "/", isHead: false).framing == .none)
        #expect(try PreviewResponseHead.parse("HTTP/1.0 304 Not Modified", cookiePath: "/", isHead: false).framing == .none)
        #expect(try PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nContent-Length: 5", cookiePath: "/", isHead: true).framing == .none)
        let dropped = try PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c",
                                                    cookiePath: "/", isHead: false)
        #expect(dropped.fields.isEmpty)
    }

    @Test func aFileIsPromisedOnlyARepresentableSizeOfARegularFile() {
        let file = { (kind: WorkspaceFile.Kind, size: UInt64) in WorkspaceFile(name: "f", kind: kind, size: size, mode: 0o644, mtime: 0) }
        #expect(FileRoutes.declaredLength(file(.file, 5)) == 5)
        #expect(FileRoutes.declaredLength(file(.file, UInt64.max)) == nil, "a guest's UInt64.max must not trap")
        #expect(FileRoutes.declaredLength(file(.file, UInt64(Int.max) + 1)) == nil)
        #expect(FileRoutes.declaredLength(file(.file, 0)) == nil, "/proc files report 0 and have content: chunked")
        #expect(FileRoutes.declaredLength(file(.other, 4096)) == nil, "a FIFO or device is chunked")
    }

    // MARK: Cookies (#7)

    @Test func aGuestCannotSetHearthsCookiesInAnySpelling() {
        for value in ["hearth_session=x; Path=/", "hearth_session =x", " hearth_session=x", "HEARTH_SESSION=x", "Hearth_Session\t=x",
                      "=hearth_session=x", "hearth_session", "__Host-hearth_session=x; Secure; Path=/", "__host-anything=1",
                      "__Secure-x=1", "hearth_preview=0123", "x_hearth_session=1", "a b=1", "app=1\u{0}", ";", "", "=", "hearth_session=x\r\nX: 1"] {
            #expect(PreviewCookies.rewrite(value, path: "/w/a/p/80/") == nil, "\(value)")
        }
    }

    @Test func aGuestsCookiesAreConfinedToItsPreview() {
        #expect(PreviewCookies.rewrite("app=1; Path=/; Domain=example.com; HttpOnly; SameSite=Lax", path: "/w/a/p/80/")
                == "app=1; HttpOnly; SameSite=Lax; Path=/w/a/p/80/")
        #expect(PreviewCookies.rewrite("app=1", path: "/w/a/p/80/") == "app=1; Path=/w/a/p/80/")
        #expect(PreviewCookies.rewrite("app=1; path=/w/b/p/80/; DOMAIN=.x", path: "/w/a/p/80/") == "app=1; Path=/w/a/p/80/")
        let head = try? PreviewResponseHead.parse("HTTP/1.0 200 OK\r\nSet-Cookie: hearth_session =x\r\nSet-Cookie: app=1; Path=/",
                                                  cookiePath: "/w/a/p/80/", isHead: false)
        #expect(head?.fields[values: .setCookie] == ["app=1; Path=/w/a/p/80/"])
    }

    @Test func theGuestSeesNoneOfHearthsCookies() {
        #expect(PreviewCookies.forGuest("hearth_session=s; theme=dark; Hearth_Session =t; hearth_preview=g; __Host-hearth_session=u; app=1")
                == "theme=dark; app=1")
        #expect(PreviewCookies.forGuest("hearth_session=s") == nil)
    }

    // MARK: Grants (#14)

    static func grant(_ credential: PreviewGrants.Credential, tenant: String = "t") -> PreviewGrants.Grant {
        PreviewGrants.Grant(workspaceID: "ws_a", reference: "a", port: 80, tenant: tenant, actor: "u", role: .member, credential: credential)
    }

    @Test func aGrantEndsWithTheCredentialThatOpenedIt() throws {
        let grants = PreviewGrants()
        let key = try grants.issue(Self.grant(.token(id: "tk_1")))
        let other = try grants.issue(Self.grant(.session(id: "se_1")))
        #expect(grants.grant(key, isLive: { _ in true }) != nil)
        #expect(grants.grant(key, isLive: { $0 != .token(id: "tk_1") }) == nil, "a revoked token's grant is refused")
        #expect(grants.grant(key, isLive: { _ in true }) == nil, "and stays ended")
        #expect(grants.grant(other, isLive: { _ in true }) != nil, "another credential's grant is untouched")
        #expect(grants.grant(other, now: Date().addingTimeInterval(PreviewGrants.lifetime + 1), isLive: { _ in true }) == nil)
    }

    @Test func oneCredentialsGrantsNeverEvictAnothers() throws {
        let grants = PreviewGrants()
        let victim = try grants.issue(Self.grant(.session(id: "se_victim"), tenant: "victim"))
        var attacker: [String] = []
        for _ in 0..<(PreviewGrants.maxPerCredential * 3) { attacker.append(try grants.issue(Self.grant(.token(id: "tk_evil"), tenant: "evil"))) }
        #expect(grants.grant(victim, isLive: { _ in true }) != nil)
        let live = attacker.filter { grants.grant($0, isLive: { _ in true }) != nil }
        #expect(live.count == PreviewGrants.maxPerCredential)
        #expect(live == Array(attacker.suffix(PreviewGrants.maxPerCredential)), "the credential's own oldest go first")
    }
}
