import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServerTestKit
import NIOCore
import NIOHTTP1
import Testing

/// Identity attacks by a member and a viewer of a second tenant (issue 14 #10, #12, #13, #17 and
/// the user lifecycle): none reaches the operator, another tenant's users, or the audit log.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HostileTenantIdentityTests {
    @Test func neitherMemberNorViewerAdministersUsersOrReadsTheAudit() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let operatorUser = try await server.client.user(email: "admin")
        for token in [evil.memberToken, evil.viewerToken] {
            for (method, path, body) in [(HTTPMethod.GET, "/v1/users", nil), (.GET, "/v1/users?tenant=default", nil),
                                         (.PATCH, "/v1/users/\(operatorUser.id)", #"{"disabled":true}"#),
                                         (.DELETE, "/v1/users/\(operatorUser.id)", nil),
                                         (.PUT, "/v1/users/\(operatorUser.id)/password", #"{"password":"taken over now"}"#),
                                         (.GET, "/v1/sessions?user=\(operatorUser.id)", nil),
                                         (.GET, "/v1/audit", nil), (.GET, "/v1/audit/verify", nil)] as [(HTTPMethod, String, String?)] {
                let (status, _) = try await evil.request(token, method, path, body: body,
                                                         headers: body == nil ? [] : [("Content-Type", "application/json")])
                #expect(status == 403 || status == 404, "\(method) \(path) answered \(status)")
            }
        }
        // The operator is untouched.
        #expect(try await server.client.users().first { $0.id == operatorUser.id }?.disabled_at == nil)
        #expect(try await server.client.whoami().user == "admin")
    }

    @Test func aMemberCannotRevokeTheOperatorsTokensOrEndItsSessions() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        let victim = try await server.client.createToken(API.CreateTokenBody(name: "victim"))
        let (status, _) = try await evil.request(evil.memberToken, .DELETE, "/v1/tokens/\(victim.id)")
        #expect(status == 404)
        #expect(try await HearthClient(baseURL: server.url, token: victim.token).whoami().user == "admin")
        let session = try await server.client.signIn(email: "admin", password: try String(
            contentsOfFile: server.dataDirectory + "/admin.password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        let sessions = try await server.client.sessions()
        for listed in sessions {
            let (ended, _) = try await evil.request(evil.memberToken, .DELETE, "/v1/sessions/\(listed.id)")
            #expect(ended == 404)
        }
        try await server.client.signOut(session)
    }

    /// #13: a page on another site posting a text/plain form signs nobody in.
    @Test func aCrossSiteFormCannotSignAVictimIn() async throws {
        let server = try await LiveServer.shared.value
        let evil = try await HostileTenant.make(server)
        var request = HTTPClientRequest(url: server.url + "/v1/session")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain")
        request.headers.add(name: "Origin", value: "https://evil.example")
        request.body = .bytes(ByteBuffer(string: #"{"email":"m@\#(evil.tenant).test","password":"a long password"}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        #expect(response.status.code == 400 && response.headers["Set-Cookie"].isEmpty)
    }
}
