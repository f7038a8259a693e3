import AsyncHTTPClient
import Foundation
import HearthAPI
import HearthClient
import HearthServer
import HearthServerTestKit
import Logging
import NIOCore
import Testing

@Suite(.serialized, .timeLimit(.minutes(5))) struct APITests {
    static let server = Task { () throws -> (HearthService, String, String) in
        let data = NSTemporaryDirectory() + "hearth-api-\(UUID().uuidString.prefix(8))"
        ScratchDirectories.removeAtExit(data)
        var logger = Logger(label: "hearth.test")
        logger.logLevel = .critical
        let live = try await LiveServer.serveInProcess(HearthServerConfiguration(dataDirectory: data, port: 0), logger: logger)
        return (live.service, live.url, live.token)
    }

    @Test func healthAndOpenAPINeedNoToken() async throws {
        let (_, url, _) = try await Self.server.value
        let anonymous = HearthClient(baseURL: url, token: nil)
        #expect(try await anonymous.health().status == "ok")
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/v1/openapi.json"), timeout: .seconds(10))
        #expect(response.status == .ok)
        let body = try await response.body.collect(upTo: 1 << 20)
        let document = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        #expect(document?["openapi"] as? String == "3.0.3")
        #expect((document?["paths"] as? [String: Any])?["/v1/workspaces/{ws}/exec"] != nil)
    }

    @Test func adminTokenIsPrivateAndBadTokensGet401() async throws {
        let (service, url, token) = try await Self.server.value
        let mode = try FileManager.default.attributesOfItem(atPath: service.tokenPath)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(token.hasPrefix("hth_") && token.count == 36)
        for bad in [nil, "hth_wrong", token + "x"] {
            do {
                _ = try await HearthClient(baseURL: url, token: bad).list()
                Issue.record("expected 401 for \(bad ?? "no token")")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 401)
                #expect(failure.code == "unauthorized")
            }
        }
    }

    @Test func unknownWorkspacesAre404WithAJSONError() async throws {
        let (_, url, token) = try await Self.server.value
        let client = HearthClient(baseURL: url, token: token)
        for call in [{ _ = try await client.get("nope") }, { _ = try await client.lifecycle("nope", "pause") },
                     { try await client.delete("ws_doesnotexist") }, { _ = try await client.run("nope", ["true"]) }] as [() async throws -> Void] {
            do {
                try await call()
                Issue.record("expected 404")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 404)
                #expect(failure.code == "not_found")
            }
        }
    }

    @Test func badInputIsRejectedClearly() async throws {
        let (_, url, token) = try await Self.server.value
        let client = HearthClient(baseURL: url, token: token)
        for body in [API.CreateWorkspaceBody(name: "Bad Name"), API.CreateWorkspaceBody(runtime: "docker"),
                     API.CreateWorkspaceBody(memory_mib: 1), API.CreateWorkspaceBody(image: "ftp://nope")] {
            do {
                _ = try await client.create(body)
                Issue.record("expected 400")
            } catch let failure as HearthClient.Failure {
                #expect(failure.status == 400)
                #expect(!failure.message.isEmpty)
            }
        }
        #expect(try await client.list().isEmpty)
    }
}
