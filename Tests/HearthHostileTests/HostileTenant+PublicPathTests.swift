import AsyncHTTPClient
import Foundation
import HearthServerTestKit
import NIOHTTP1
import Testing
@testable import HearthServer

/// The only unauthenticated paths are the fixed public ones and a preview's `/w/{ws}/p/{port}/~{grant}/…`:
/// a path that merely contains `/w/` and `/~` is authenticated like any other.
@Suite(.timeLimit(.minutes(2))) struct HostileTenantPublicPathTests {
    static let crafted = ["/v1/workspaces/x/w/y/~z", "/v1/tokens/w/~x", "/w/x/~y", "/w/x/p/80/a/~b", "/w/x/p/80/~",
                          "/w/x/p/http/~k/", "/w//p/80/~k/", "/w/x/p/80/~k/../../../../v1/tokens", "/w/../v1/tokens/p/1/~k",
                          "/x/w/x/p/80/~k/", "//w/x/p/80/~k/"]

    @Test func craftedPathsAreNotPublic() {
        for path in Self.crafted {
            #expect(!AuthMiddleware.isPreviewGrantPath(path), "\(path) passed as a preview grant path")
        }
        #expect(AuthMiddleware.isPreviewGrantPath("/w/ws-1/p/8000/~abc/"))
        #expect(AuthMiddleware.isPreviewGrantPath("/w/ws-1/p/8000/~abc"))
        #expect(AuthMiddleware.isPreviewGrantPath("/w/ws-1/p/8000/~abc/static/app.js"))
    }

    /// Without a credential every crafted path is refused with 401 by a live server.
    @Test func craftedPathsGet401WithoutACredential() async throws {
        let server = try await LiveServer.shared.value
        for path in Self.crafted where !path.hasPrefix("//") {
            for method in [HTTPMethod.GET, .POST, .DELETE] {
                var request = HTTPClientRequest(url: server.url + path)
                request.method = method
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status.code == 401, "\(method) \(path) answered \(response.status.code) without a credential")
            }
        }
    }
}
